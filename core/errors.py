"""Domain errors raised by services, and the one place that maps them to HTTP.

Each app declares its own errors (labeling/errors.py, payouts/errors.py,
rewardmodel/errors.py) as subclasses of `DomainError`, with the status they answer.
"""

from typing import Any

from django.db import DataError
from drf_spectacular.utils import OpenApiResponse
from rest_framework import serializers
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler


class DomainError(Exception):
    """A refused request. `status_code` is the HTTP status the API answers with."""

    status_code = 400
    default_detail = "Invalid request."

    def __init__(self, detail: str | dict[str, Any] | None = None) -> None:
        self.detail = detail if detail is not None else self.default_detail
        super().__init__(str(self.detail))

    def as_body(self) -> dict[str, Any]:
        return self.detail if isinstance(self.detail, dict) else {"detail": self.detail}

    def message(self) -> str:
        """The refusal as one line, for pages and the admin."""
        return " ".join(
            " ".join(map(str, v)) if isinstance(v, list) else str(v)
            for v in self.as_body().values()
        )


class NotFound(DomainError):
    status_code = 404
    default_detail = "Not found."


class ErrorDetailSerializer(serializers.Serializer):
    """A refused request, as `exception_handler` answers it (the schema of 4xx bodies)."""

    detail = serializers.CharField()


# 400s carry `{"detail": str}` or DRF's field errors (`{"field": ["message", ...]}`, nested
# ones keyed by index): the exception handler renders them, so the schema is written out.
BAD_REQUEST = OpenApiResponse(
    response={
        "type": "object",
        "additionalProperties": {
            "anyOf": [
                {"type": "string"},
                {"type": "array", "items": {"type": "string"}},
                {"type": "object"},
            ]
        },
    },
    description='`{"detail": str}` or field errors `{"field": ["message", ...]}`.',
)


def exception_handler(exc: Exception, context: dict[str, Any]) -> Response | None:
    """DRF's EXCEPTION_HANDLER: domain errors answer their status with their detail."""
    if isinstance(exc, DomainError):
        return Response(exc.as_body(), status=exc.status_code)
    if isinstance(exc, DataError | OverflowError):
        # An id or number too large for the database column: the client's input, not ours.
        return Response({"detail": "A value is out of range."}, status=400)
    return drf_exception_handler(exc, context)
