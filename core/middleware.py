"""Request-wide guards: bodies over the size limit, input the database refuses, and the
Content-Security-Policy header."""

from collections.abc import Callable

from django.conf import settings
from django.core.exceptions import RequestDataTooBig
from django.db import DataError
from django.http import HttpRequest, HttpResponse

from .errors import error_response

Handler = Callable[[HttpRequest], HttpResponse]


class HostileInputMiddleware:
    """Answers a clear 4xx, in the shape the path's clients read, instead of a 500."""

    def __init__(self, get_response: Handler) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
        length = request.META.get("CONTENT_LENGTH") or "0"
        if limit is not None and length.isascii() and length.isdigit() and int(length) > limit:
            return error_response(request, 413, "The request body is too large.")
        # No text column holds NUL (PostgreSQL refuses it): refuse it on any database.
        query = request.META.get("QUERY_STRING", "")
        if "\x00" in request.path or "%00" in query or "\x00" in query:
            return error_response(request, 400, "NUL characters are not allowed.")
        return self.get_response(request)

    def process_exception(self, request: HttpRequest, exception: Exception) -> HttpResponse | None:
        if isinstance(exception, RequestDataTooBig):
            return error_response(request, 413, "The request body is too large.")
        # NUL characters, over-long or out-of-range values: PostgreSQL refuses the client's
        # input; a lone surrogate cannot even be encoded to send it.
        if isinstance(exception, DataError | UnicodeError):
            return error_response(request, 400, "A value is invalid or out of range.")
        return None


class ContentSecurityPolicyMiddleware:
    """Sets CONTENT_SECURITY_POLICY, or the first CONTENT_SECURITY_POLICY_PATHS entry whose
    prefix the path starts with (the admin and the API docs need a looser one)."""

    def __init__(self, get_response: Handler) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        policy = settings.CONTENT_SECURITY_POLICY
        for prefix, path_policy in settings.CONTENT_SECURITY_POLICY_PATHS.items():
            if request.path.startswith(prefix):
                policy = path_policy
                break
        response.headers.setdefault("Content-Security-Policy", policy)
        return response
