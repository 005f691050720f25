"""The API's JSON parser: `core.hostile.loads` behind DRF, with a body size limit."""

import codecs
from typing import Any

from django.conf import settings
from rest_framework import exceptions, parsers

from . import hostile


class BodyTooLarge(exceptions.APIException):
    status_code = 413
    default_detail = "The request body is too large."
    default_code = "too_large"


class JSONParser(parsers.JSONParser):
    """DRF's JSON parser, refusing with 400 what Python or the database cannot hold and
    with 413 a body over DATA_UPLOAD_MAX_MEMORY_SIZE (DRF reads the stream itself, so
    Django's limit on `request.body` does not apply)."""

    def parse(self, stream: Any, media_type: Any = None, parser_context: Any = None) -> Any:
        limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
        raw = stream.read() if limit is None else stream.read(limit + 1)
        if limit is not None and len(raw) > limit:
            raise BodyTooLarge()
        encoding = (parser_context or {}).get("encoding", settings.DEFAULT_CHARSET)
        try:
            return hostile.loads(codecs.decode(raw, encoding))
        except LookupError as exc:
            raise exceptions.ParseError(f"Unknown charset {encoding!r}.") from exc
        except ValueError as exc:  # UnicodeDecodeError and JSONDecodeError are ValueErrors
            raise exceptions.ParseError(f"JSON parse error - {exc}") from exc
