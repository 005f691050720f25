"""Reads batch files (JSONL, or CSV with prompt,response_a,response_b) into item dicts.

Errors name the offending line, counted from 1 as an editor shows it.
"""

import csv
import io
import json
from typing import Any

from django.conf import settings
from django.core.files.uploadedfile import UploadedFile
from django.utils.translation import gettext as _

from core import hostile

from .errors import DomainError, InvalidBatch

CSV_COLUMNS = ("prompt", "response_a", "response_b")


class FileTooLarge(DomainError):
    status_code = 413


def read_batch_upload(upload: UploadedFile) -> list[dict[str, Any]]:
    """Items of an uploaded batch file, within the configured size and item limits."""
    check_upload_size(upload)
    return parse_batch_file(
        name=upload.name or "", content=upload.read(), max_items=settings.BATCH_MAX_ITEMS
    )


def check_upload_size(upload: UploadedFile) -> None:
    limit = settings.BATCH_UPLOAD_MAX_BYTES
    if upload.size > limit:
        raise FileTooLarge(_("The file is larger than %(limit)s bytes.") % {"limit": limit})


def bad_file(message: str) -> InvalidBatch:
    return InvalidBatch({"file": [message]})


def parse_batch_file(*, name: str, content: bytes, max_items: int) -> list[dict[str, Any]]:
    try:
        text = content.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise bad_file(_("The file is not UTF-8 text.")) from exc
    if "\x00" in text:
        raise bad_file(_("The file holds NUL characters: is it a binary file?"))
    items = _parse_csv(text) if name.lower().endswith(".csv") else _parse_jsonl(text)
    if not items:
        raise bad_file(_("The file holds no items."))
    if len(items) > max_items:
        raise bad_file(
            _("Too many items: %(n)d (at most %(most)d).") % {"n": len(items), "most": max_items}
        )
    return items


def _parse_jsonl(text: str) -> list[dict[str, Any]]:
    items = []
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            item = hostile.loads(line)  # no deep nesting, huge numbers or lone surrogates
        except ValueError as exc:
            reason = exc.msg if isinstance(exc, json.JSONDecodeError) else str(exc).rstrip(".")
            raise bad_file(
                _("Line %(number)d: not valid JSON (%(reason)s).")
                % {"number": number, "reason": reason}
            ) from exc
        if not isinstance(item, dict):
            raise bad_file(_("Line %(number)d: expected a JSON object.") % {"number": number})
        item["_line"] = number
        items.append(item)
    return items


def _parse_csv(text: str) -> list[dict[str, Any]]:
    reader = csv.DictReader(io.StringIO(text))
    missing = [c for c in CSV_COLUMNS if c not in (reader.fieldnames or [])]
    if missing:
        raise bad_file(
            _("Line 1: missing column(s) %(columns)s.") % {"columns": ", ".join(missing)}
        )
    items = []
    try:
        for row in reader:
            number = reader.line_num
            if any(row.get(c) in (None, "") for c in CSV_COLUMNS):
                raise bad_file(
                    _("Line %(number)d: prompt, response_a and response_b must all be filled.")
                    % {"number": number}
                )
            items.append(
                {
                    "prompt": row["prompt"],
                    "responses": [
                        {"id": "a", "text": row["response_a"]},
                        {"id": "b", "text": row["response_b"]},
                    ],
                    "_line": number,
                }
            )
    except csv.Error as exc:
        raise bad_file(
            _("Line %(number)d: %(reason)s.") % {"number": reader.line_num, "reason": exc}
        ) from exc
    return items
