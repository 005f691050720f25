"""Domain errors raised by services, and the one place that maps them to HTTP.

Each app declares its own errors (labeling/errors.py, payouts/errors.py,
rewardmodel/errors.py) as subclasses of `DomainError`, with the status they answer.
Every error an API path answers (from DRF, or Django's handler400/403/404/500) is JSON;
the wallet endpoints (LNURL_WALLET_PATHS) answer LNURL ERROR bodies instead.
"""

from typing import Any

from django.conf import settings
from django.core.exceptions import RequestDataTooBig
from django.db import DataError
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.views import defaults
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


# What DRF answers before a view runs, on operations that read credentials: 401 for none
# (where they are required) or a bad or expired token, 403 for the wrong kind of account.
BAD_CREDENTIALS = {401: ErrorDetailSerializer}
SIGNED_IN_ONLY = {401: ErrorDetailSerializer, 403: ErrorDetailSerializer}


def exception_handler(exc: Exception, context: dict[str, Any]) -> Response | None:
    """DRF's EXCEPTION_HANDLER: domain errors answer their status with their detail."""
    if isinstance(exc, DomainError):
        response = Response(exc.as_body(), status=exc.status_code)
    elif isinstance(exc, DataError | OverflowError | UnicodeError):
        # A NUL character, or an id or number too large for the database column: the
        # client's input, not ours.
        response = Response({"detail": "A value is invalid or out of range."}, status=400)
    else:
        response = drf_exception_handler(exc, context)
    request = context.get("request")
    if response is not None and request is not None and is_wallet_path(request.path):
        body = lnurl_error_body(response.data)
        return Response(body, status=429 if response.status_code == 429 else 200)
    return response


# --- Django-level errors: what a request answers when no view did ----------------------


def is_wallet_path(path: str) -> bool:
    return path.startswith(tuple(settings.LNURL_WALLET_PATHS))


def lnurl_error_body(detail: Any) -> dict[str, str]:
    """LUD-06's error shape; a DRF body's messages become the reason."""
    if isinstance(detail, dict) and set(detail) == {"detail"}:
        detail = detail["detail"]
    if isinstance(detail, dict):
        detail = " ".join(f"{key}: {value}" for key, value in detail.items())
    return {"status": "ERROR", "reason": str(detail)}


def error_response(request: HttpRequest, status: int, detail: str) -> HttpResponse:
    """An error in the shape the path's clients read: LNURL for wallets, JSON for the API
    and plain text on pages."""
    if is_wallet_path(request.path):
        return JsonResponse(lnurl_error_body(detail), status=429 if status == 429 else 200)
    if request.path.startswith("/v1/"):  # OpenAI-compatible clients read OpenAI's shape
        error = {"message": detail, "type": "invalid_request_error", "code": None}
        return JsonResponse({"error": error}, status=status)
    if request.path.startswith("/api/"):
        return JsonResponse({"detail": detail}, status=status)
    return HttpResponse(detail, status=status, content_type="text/plain; charset=utf-8")


def is_api_path(path: str) -> bool:
    return path.startswith(("/api/", "/v1/"))


def bad_request(request: HttpRequest, exception: Exception) -> HttpResponse:
    if isinstance(exception, RequestDataTooBig):
        return error_response(request, 413, "The request body is too large.")
    if is_api_path(request.path):
        return error_response(request, 400, "Bad request.")
    return defaults.bad_request(request, exception)


def permission_denied(request: HttpRequest, exception: Exception) -> HttpResponse:
    if is_api_path(request.path):
        return error_response(request, 403, "Permission denied.")
    return defaults.permission_denied(request, exception)


def page_not_found(request: HttpRequest, exception: Exception) -> HttpResponse:
    if is_api_path(request.path):
        return error_response(request, 404, "Not found.")
    return defaults.page_not_found(request, exception)


def server_error(request: HttpRequest) -> HttpResponse:
    if is_api_path(request.path):
        return error_response(request, 500, "Server error.")
    return defaults.server_error(request)
