"""The OpenAI-compatible endpoints under /v1 (base_url=<site>/v1 for the openai SDK): plain
Django views, kept out of the DRF schema; errors in OpenAI's shape
`{"error": {"message", "type", "code"}}`. They parse, call a service and render."""

import json
import secrets
import time
from collections.abc import Callable, Iterator
from functools import wraps
from typing import Any, TypeVar

from django.db import DataError
from django.http import HttpRequest, HttpResponse, JsonResponse, StreamingHttpResponse
from django.views.decorators.csrf import csrf_exempt

from core.errors import DomainError

from . import auth, selectors
from .engines import wire
from .engines.base import Usage
from .errors import BadCall, BadCredentials, ServingError
from .models import ServedModel
from .services import calls, l402, rowcache, settling
from .services.metering import CreditExhausted

T = TypeVar("T")

View = Callable[[HttpRequest], HttpResponse]


def openai_error(
    status: int, message: str, kind: str = "invalid_request_error", code: str | None = None
) -> JsonResponse:
    return JsonResponse({"error": {"message": message, "type": kind, "code": code}}, status=status)


def openai_view(*methods: str) -> Callable[[View], View]:
    """Only `methods`; every refusal in OpenAI's shape, never a 500 for a client's input."""

    def decorate(view: View) -> View:
        @csrf_exempt
        @wraps(view)
        def wrapped(request: HttpRequest) -> HttpResponse:
            if request.method not in methods:
                response = openai_error(
                    405, f"Use {' or '.join(methods)}.", code="method_not_allowed"
                )
                response["Allow"] = ", ".join(methods)
                return response
            try:
                with settling.answering():
                    return _answer(view, request)
            except ServingError as exc:
                response = JsonResponse(exc.openai_body(), status=exc.status_code)
                if isinstance(exc, BadCredentials):
                    response["WWW-Authenticate"] = 'Bearer, L402 realm="models"'
                return response
            except DomainError as exc:
                return openai_error(exc.status_code, exc.message())
            except (DataError, OverflowError, UnicodeError):
                return openai_error(400, "A value is invalid or out of range.")

        return wrapped

    return decorate


def _answer(view: View, request: HttpRequest) -> HttpResponse:
    """The view's answer. A call refused on the process's copies of its rows before its hold
    checked them (the model may have changed since) is answered again on fresh rows."""
    rowcache.begin()
    try:
        return view(request)
    except (rowcache.Stale, ServingError, DomainError):
        if not rowcache.refused_on_copy():
            raise
    with rowcache.bypassed():
        return view(request)


def json_body(request: HttpRequest) -> Any:
    if request.content_type != "application/json":
        raise BadCall("Send the body as application/json.")
    try:
        return json.loads(request.body)
    except (ValueError, UnicodeDecodeError, RecursionError) as exc:
        raise BadCall("The body is not valid JSON (or nested too deep).") from exc


def challenge(request: HttpRequest, served_model: ServedModel) -> HttpResponse:
    """402: a macaroon and an invoice buying credit for this model (the `L402` challenge,
    and the same under the older `LSAT` scheme, in one header)."""
    credit_msat = l402.credit_amount(request.GET.get("credit_msat"))
    throttle = auth.ChallengeRateThrottle()
    if not throttle.allow_request(request, None):
        response = openai_error(
            429, "Too many payment challenges from your address.", "rate_limit_error"
        )
        response["Retry-After"] = throttle.retry_after()
        return response
    issued = l402.issue_challenge(served_model=served_model, credit_msat=credit_msat)
    detail = (
        f"Payment required: pay the invoice for {credit_msat} msat of credit, then send "
        "`Authorization: L402 <macaroon>:<preimage>`."
    )
    body = {
        "detail": detail,
        "invoice": issued.token.bolt11,
        "amount_msat": credit_msat,
        "macaroon": issued.macaroon,
        "error": {"message": detail, "type": "payment_required", "code": "l402_payment_required"},
    }
    response = JsonResponse(body, status=402)
    response["WWW-Authenticate"] = ", ".join(issued.www_authenticate())
    return response


def paid(
    request: HttpRequest, asked: calls.ChatRequest | calls.RewardRequest, start: Callable[[Any], T]
) -> T | None:
    """`start(payer)` with the request's credentials; None when there are none or the L402
    credit cannot cover the call (both answered with a fresh challenge)."""
    payer = auth.payer_for(
        request.headers.get("Authorization", ""), served_model=asked.model, token=asked.token
    )
    if payer is None:
        return None
    try:
        return start(payer)
    except CreditExhausted:
        return None


def _token_id(request: HttpRequest) -> str | None:
    return auth.token_id_in(request.headers.get("Authorization", ""))


@openai_view("GET")
def list_models(request: HttpRequest) -> HttpResponse:
    return JsonResponse({"object": "list", "data": selectors.listed_models()})


@openai_view("POST")
def chat_completions(request: HttpRequest) -> HttpResponse:
    chat = calls.parse_chat(json_body(request), token_id=_token_id(request))
    metered = paid(request, chat, lambda payer: calls.start_chat(request=chat, payer=payer))
    if metered is None:
        return challenge(request, chat.model)
    call_id = f"chatcmpl-{metered.call.id}-{secrets.token_hex(4)}"
    name = chat.model.name
    if chat.stream:
        response = StreamSettledWhenClosed(
            _sse(metered, call_id, name), settle=metered.finish, content_type="text/event-stream"
        )
        response["Cache-Control"] = "no-cache"
        response["X-Accel-Buffering"] = "no"  # nginx: pass each chunk on at once
        return response
    pieces = list(metered.pieces())
    body = wire.completion(call_id, name, pieces, metered.used() or Usage(0, 0))
    return SettledWhenSent(body, settle=metered.finish)


class SettledWhenSent(JsonResponse):
    """Charges the call when the server closes the response, after sending it. WSGI servers
    close a response before they read the connection's next request, so the settle is
    queued to the process's settling thread (`services.settling`): the ledger's writes
    delay neither this answer nor the client's next call."""

    def __init__(self, data: dict[str, Any], *, settle: Callable[[], None]) -> None:
        super().__init__(data)
        self.settle = settle

    def close(self) -> None:
        try:
            settling.settle_soon(self.settle)
        finally:
            super().close()


class StreamSettledWhenClosed(StreamingHttpResponse):
    """A stream charged, as SettledWhenSent, when the server closes it: what it was sent,
    also when the client went away mid-answer; nothing for a stream it never read."""

    def __init__(self, content: Iterator[bytes], *, settle: Callable[[], None], **kw: Any) -> None:
        super().__init__(content, **kw)
        self.settle = settle

    def close(self) -> None:
        try:
            super().close()  # the stream first: a client that left stops it where it was
        finally:
            settling.settle_soon(self.settle)


def _sse(metered: calls.MeteredChat, call_id: str, model: str) -> Iterator[bytes]:
    created = int(time.time())
    for piece in metered.pieces():
        yield wire.sse(wire.chunk(call_id, model, created, piece))
    yield wire.sse(wire.chunk(call_id, model, created, metered.used() or Usage(0, 0)))
    yield wire.sse("[DONE]")


@openai_view("POST")
def rewards(request: HttpRequest) -> HttpResponse:
    asked = calls.parse_rewards(json_body(request), token_id=_token_id(request))
    scored = paid(request, asked, lambda payer: calls.score(request=asked, payer=payer))
    if scored is None:
        return challenge(request, asked.model)
    usage = {
        "prompt_tokens": scored.prompt_tokens,
        "completion_tokens": 0,
        "total_tokens": scored.prompt_tokens,
        "responses": len(scored.scores),
    }
    return JsonResponse({"model": asked.model.name, "scores": scored.scores, "usage": usage})


@openai_view("GET")
def credit(request: HttpRequest) -> HttpResponse:
    header = request.headers.get("Authorization", "")
    credential = auth.l402_credential(header) if header.strip() else None
    if credential is None:
        raise BadCredentials(
            "Send the L402 credential whose credit to show: "
            "`Authorization: L402 <macaroon>:<preimage>`."
        )
    return JsonResponse(selectors.credit(token=credential.token, limits=credential.limits))
