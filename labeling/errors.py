"""Domain errors raised by services, and the one place that maps them to HTTP."""

from typing import Any

from django.db import DataError
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


class NotFound(DomainError):
    status_code = 404
    default_detail = "Not found."


class InvalidAnswer(DomainError):
    default_detail = "The answer does not fit this task."


class InvalidBatch(DomainError):
    default_detail = "The batch is not valid."


class AlreadySubmitted(DomainError):
    status_code = 409
    default_detail = "This assignment was already answered."


class AssignmentClosed(DomainError):
    status_code = 409
    default_detail = "This assignment was skipped or reported."


class AssignmentExpired(DomainError):
    status_code = 410
    default_detail = "This assignment expired; ask for the next task."


class InsufficientBalance(DomainError):
    status_code = 402
    default_detail = "The balance does not cover this amount."


def exception_handler(exc: Exception, context: dict[str, Any]) -> Response | None:
    if isinstance(exc, DomainError):
        return Response(exc.as_body(), status=exc.status_code)
    if isinstance(exc, DataError | OverflowError):
        # An id or number too large for the database column: the client's input, not ours.
        return Response({"detail": "A value is out of range."}, status=400)
    return drf_exception_handler(exc, context)
