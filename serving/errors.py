"""Serving's refusals. Under /v1 they answer in OpenAI's shape
(`{"error": {"message", "type", "code"}}`); under /api/v1 as every DomainError does."""

from typing import Any

from core.errors import DomainError


class ServingError(DomainError):
    error_type = "invalid_request_error"
    code: str | None = None

    def openai_body(self) -> dict[str, Any]:
        """OpenAI's error shape; a field error names its field (`param`, as OpenAI does)."""
        param = next(iter(self.detail)) if isinstance(self.detail, dict) else None
        message = f"{param}: {self.message()}" if param else self.message()
        error = {"message": message, "type": self.error_type, "code": self.code, "param": param}
        if self.status_code == 402:  # API.md: a 402 carries `detail` too
            return {"error": error, "detail": message}
        return {"error": error}


class BadCall(ServingError):
    default_detail = "Invalid request."


class ModelNotFound(ServingError):
    status_code = 404
    code = "model_not_found"
    default_detail = "No such model is served."


class BadCredentials(ServingError):
    status_code = 401
    error_type = "authentication_error"
    code = "invalid_api_key"
    default_detail = "Invalid credentials."


class NotARequester(ServingError):
    status_code = 403
    error_type = "permission_error"
    default_detail = "Only requesters have a balance to pay calls with; use L402."


class BalanceTooLow(ServingError):
    """A requester's balance does not cover the call's worst case."""

    status_code = 402
    error_type = "insufficient_quota"
    code = "insufficient_balance"
    default_detail = "Your balance does not cover this call's worst case (prompt + max_tokens)."


class EngineFailed(ServingError):
    status_code = 502
    error_type = "engine_error"
    code = "engine_unavailable"
    default_detail = "The model's engine failed; nothing was charged."


class EngineTimeout(EngineFailed):
    status_code = 504
    code = "engine_timeout"
    default_detail = "The model's engine did not answer in time; nothing was charged."


class NodeUnavailable(ServingError):
    status_code = 503
    error_type = "server_error"
    code = "lightning_unavailable"
    default_detail = "The Lightning node is not available; try again."


class PublishRefused(DomainError):
    default_detail = "This run cannot be published."


class ServedModelNotFound(DomainError):
    status_code = 404
    default_detail = "No such served model."
