"""The gateway: a chat or reward call is checked (before any engine work), its worst case
held from the payer, sent to the model's engine process, and settled with what it used.
The web process never runs inference; it meters and passes the engine's stream through."""

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from django.conf import settings

from .. import sql as serving_sql
from ..engines.base import ChatParams, EngineError, Piece, Usage
from ..engines.base import EngineTimeout as EngineTimedOut
from ..engines.upstream import UpstreamEngine
from ..errors import BadCall, EngineFailed, EngineTimeout, ModelNotFound
from ..models import L402Token, ServedCall, ServedModel
from . import metering, rowcache
from .metering import Payer

ROLES = ("system", "user", "assistant", "developer")
# Chat-template tokens around each message and before the answer, in the worst case.
PER_MESSAGE_TOKENS = 8
PER_CALL_TOKENS = 8


@dataclass(frozen=True)
class Called:
    """The model called, the row of the credential's L402 token (if any), and what the hold
    checks of the model: its row as text (PostgreSQL)."""

    model: ServedModel
    token: L402Token | None = None
    model_text: str | None = None


def published_model(name: Any, *, kind: str, token_id: str | None = None) -> Called:
    """The model called, and the row of the L402 token `token_id` if there is one: from the
    process's copies (rowcache), or read in one SELECT, so that a paid call looks up both in
    at most one round trip."""
    if not isinstance(name, str) or not name:
        raise BadCall({"model": ["The model to call, by name (GET /v1/models)."]})
    name = name[:64]
    copies = rowcache.lookup(name, token_id) if rowcache.usable(token_id) else None
    if copies is not None:
        called = Called(copies[0].row, copies[1], copies[0].text)
    else:
        model, token, text = serving_sql.published_model(name=name, token_id=token_id)
        if model is None:
            raise ModelNotFound(f"The model {name!r} is not served.")
        called = Called(model, token, text)
        if text is not None and token_id is not None:
            rowcache.keep(rowcache.Model(model, text), token)
    if called.model.kind != kind:
        where = (
            "/v1/chat/completions"
            if called.model.kind == ServedModel.Kind.POLICY
            else "/v1/rewards"
        )
        raise BadCall(f"{called.model.name} is a {called.model.kind} model: call it at {where}.")
    return called


def _number(body: dict[str, Any], name: str, default: float, low: float, high: float) -> float:
    value = body.get(name)
    if value is None:
        return default
    if isinstance(value, bool) or not isinstance(value, int | float) or not low <= value <= high:
        raise BadCall({name: [f"A number from {low} to {high}."]})
    return float(value)


def _whole(value: Any, name: str, high: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= high:
        raise BadCall({name: [f"A whole number from 1 to {high}."]})
    return value


def _content(message: Any) -> str:
    if not isinstance(message, dict) or message.get("role") not in ROLES:
        raise BadCall(
            {"messages": [f"Each message is {{'role': {'|'.join(ROLES)}, 'content': str}}."]}
        )
    content = message.get("content")
    if isinstance(content, list):  # OpenAI's content parts: only text ones here
        if not all(
            isinstance(p, dict) and p.get("type") == "text" and isinstance(p.get("text"), str)
            for p in content
        ):
            raise BadCall({"messages": ["Only text content parts are supported."]})
        content = "".join(p["text"] for p in content)
    if not isinstance(content, str):
        raise BadCall({"messages": ["A message's content is a string."]})
    return content


@dataclass(frozen=True)
class Asked:
    """A parsed call: the model called (and the credential's token), as read."""

    called: Called

    @property
    def model(self) -> ServedModel:
        return self.called.model

    @property
    def token(self) -> L402Token | None:
        """The credential's token, read with the model."""
        return self.called.token


@dataclass(frozen=True)
class ChatRequest(Asked):
    params: ChatParams
    stream: bool
    prompt_bytes: int

    @property
    def prompt_bound(self) -> int:
        """The most prompt tokens the call may be charged: one per byte, plus the template's."""
        return self.prompt_bytes + PER_MESSAGE_TOKENS * len(self.params.messages) + PER_CALL_TOKENS

    @property
    def worst_msat(self) -> int:
        return metering.chat_price_msat(
            self.model,
            prompt_tokens=self.prompt_bound,
            completion_tokens=self.params.max_tokens * self.params.n,
        )


def parse_chat(body: Any, *, token_id: str | None = None) -> ChatRequest:
    """The call as the engine will get it; BadCall (400) / ModelNotFound (404) otherwise."""
    if not isinstance(body, dict):
        raise BadCall("The body is a JSON object.")
    messages = body.get("messages")
    if not isinstance(messages, list) or not messages:
        raise BadCall({"messages": ["A non-empty list of messages."]})
    if len(messages) > 1000:
        raise BadCall({"messages": ["At most 1000 messages."]})
    contents = [_content(m) for m in messages]
    prompt_bytes = sum(len(c.encode("utf-8", "surrogatepass")) for c in contents)
    limit = settings.SERVING_MAX_PROMPT_BYTES
    if prompt_bytes > limit:
        raise BadCall({"messages": [f"The prompt is {prompt_bytes} bytes; the limit is {limit}."]})
    called = published_model(body.get("model"), kind=ServedModel.Kind.POLICY, token_id=token_id)
    model = called.model
    asked = body.get("max_completion_tokens", body.get("max_tokens"))
    max_tokens = (
        model.max_tokens if asked is None else _whole(asked, "max_tokens", model.max_tokens)
    )
    stop = body.get("stop") or []
    stop = [stop] if isinstance(stop, str) else stop
    if (
        not isinstance(stop, list)
        or len(stop) > 4
        or not all(isinstance(s, str) and 0 < len(s) <= 100 for s in stop)
    ):
        raise BadCall({"stop": ["A string or up to 4 strings of 1 to 100 characters."]})
    stream = body.get("stream", False)
    if not isinstance(stream, bool):
        raise BadCall({"stream": ["true or false."]})
    n = body.get("n")
    params = ChatParams(
        messages=[
            {"role": m["role"], "content": c} for m, c in zip(messages, contents, strict=True)
        ],
        max_tokens=max_tokens,
        temperature=_number(body, "temperature", 1.0, 0.0, 2.0),
        top_p=_number(body, "top_p", 1.0, 0.0, 1.0),
        stop=stop,
        n=1 if n is None else _whole(n, "n", settings.SERVING_MAX_N),
    )
    return ChatRequest(called=called, params=params, stream=stream, prompt_bytes=prompt_bytes)


@dataclass(frozen=True)
class RewardRequest(Asked):
    prompt: str
    responses: list[str]

    @property
    def worst_msat(self) -> int:
        return metering.reward_price_msat(self.model, responses=len(self.responses))


def parse_rewards(body: Any, *, token_id: str | None = None) -> RewardRequest:
    if not isinstance(body, dict):
        raise BadCall("The body is a JSON object.")
    prompt, responses = body.get("prompt"), body.get("responses")
    if not isinstance(prompt, str):
        raise BadCall({"prompt": ["A string."]})
    most = settings.SERVING_MAX_RESPONSES
    if (
        not isinstance(responses, list)
        or not 1 <= len(responses) <= most
        or not all(isinstance(r, str) for r in responses)
    ):
        raise BadCall({"responses": [f"A list of 1 to {most} strings."]})
    size = sum(len(t.encode("utf-8", "surrogatepass")) for t in [prompt, *responses])
    limit = settings.SERVING_MAX_PROMPT_BYTES
    if size > limit:
        raise BadCall(
            {"responses": [f"The prompt and responses are {size} bytes; the limit is {limit}."]}
        )
    called = published_model(body.get("model"), kind=ServedModel.Kind.REWARD, token_id=token_id)
    return RewardRequest(called=called, prompt=prompt, responses=responses)


def engine_for(model: ServedModel) -> UpstreamEngine:
    if not model.engine_url:
        raise EngineFailed(f"No engine is running for {model.name} yet; nothing was charged.")
    try:
        return UpstreamEngine(
            model.engine_url,
            model=model.upstream_model or model.name,
            api_key=settings.SERVING_ENGINE_API_KEY,
            timeout=settings.SERVING_ENGINE_TIMEOUT_SECONDS,
        )
    except EngineError as exc:
        raise EngineFailed() from exc


def _refusal(exc: EngineError) -> EngineFailed:
    return EngineTimeout() if isinstance(exc, EngineTimedOut) else EngineFailed()


@dataclass
class MeteredChat:
    """A chat call in progress: iterate `events()` (pieces, then the usage charged); the
    call is settled when the iteration ends, however it ends."""

    request: ChatRequest
    call: ServedCall
    engine: UpstreamEngine
    delivered: int = 0
    usage: Usage | None = None
    pending: list[Piece | Usage] = field(default_factory=list)
    finished: bool = False

    def start(self) -> None:
        """Waits for the engine's first piece: a call whose engine fails before answering
        is refused (502/504) with nothing charged."""
        self.stream: Iterator[Piece | Usage] = iter(
            self.engine.chat(self.request.params, stream=self.request.stream)
        )
        try:
            self.pending.append(next(self.stream))
        except StopIteration:
            pass
        except EngineError as exc:
            self._settle(failed=True)
            raise _refusal(exc) from exc
        except BaseException:
            self._settle(failed=True)
            raise

    def pieces(self) -> Iterator[Piece]:
        """The answer as the engine streams it. Iterate to the end, then `finish()`; a
        client that goes away mid-answer (the generator closed) is settled at once."""
        try:
            while True:
                if self.pending:
                    event = self.pending.pop(0)
                else:
                    try:
                        event = next(self.stream)
                    except StopIteration:
                        break
                if isinstance(event, Usage):
                    self.usage = event
                    continue
                if event.text:
                    self.delivered += 1
                yield event
        except EngineError:
            pass  # the engine broke mid-answer: charged what was delivered
        except BaseException:  # the client went away (GeneratorExit), or worse
            self.finish()
            raise

    def used(self) -> Usage | None:
        """What the call is charged for; None if it delivered nothing."""
        params = self.request.params
        if self.usage is not None:  # the engine's own count, never above what was held
            return Usage(
                min(self.usage.prompt_tokens, self.request.prompt_bound),
                min(self.usage.completion_tokens, params.max_tokens * params.n),
            )
        return Usage(0, self.delivered) if self.delivered else None  # broke mid-answer

    def finish(self) -> None:
        """Charges what was used and releases the rest (once, however often called)."""
        if not self.finished:
            self._settle(failed=False)

    def _settle(self, *, failed: bool) -> None:
        self.finished = True
        usage = None if failed else self.used()
        if usage is None:
            metering.settle_call(
                call=self.call, owner_id=self.request.model.owner_id, delivered=False
            )
            return
        metering.settle_call(
            call=self.call,
            owner_id=self.request.model.owner_id,
            delivered=True,
            charge_msat=metering.chat_price_msat(
                self.request.model,
                prompt_tokens=usage.prompt_tokens,
                completion_tokens=usage.completion_tokens,
            ),
            prompt_tokens=usage.prompt_tokens,
            completion_tokens=usage.completion_tokens,
        )


def reserve(request: ChatRequest | RewardRequest, payer: Payer) -> ServedCall:
    """Holds the call's worst case (metering.reserve_call); a hold that fails on copied rows
    may have found the model changed: the call is answered again on fresh rows."""
    try:
        call = metering.reserve_call(
            served_model=request.model,
            payer=payer,
            worst_msat=request.worst_msat,
            model_text=request.called.model_text,
        )
    except metering.CreditExhausted:
        if rowcache.unchecked():
            raise rowcache.Stale() from None
        raise
    rowcache.checked()
    return call


def start_chat(*, request: ChatRequest, payer: Payer) -> MeteredChat:
    engine = engine_for(request.model)
    call = reserve(request, payer)
    metered = MeteredChat(request=request, call=call, engine=engine)
    metered.start()
    return metered


@dataclass(frozen=True)
class Scored:
    scores: list[float]
    prompt_tokens: int
    charged_msat: int


def score(*, request: RewardRequest, payer: Payer) -> Scored:
    engine = engine_for(request.model)
    call = reserve(request, payer)
    owner_id = request.model.owner_id
    try:
        result = engine.score(prompt=request.prompt, responses=request.responses)
        if len(result.scores) != len(request.responses):
            raise EngineError("the engine scored a different number of responses")
    except EngineError as exc:
        metering.settle_call(call=call, owner_id=owner_id, delivered=False)
        raise _refusal(exc) from exc
    except BaseException:
        metering.settle_call(call=call, owner_id=owner_id, delivered=False)
        raise
    metering.settle_call(
        call=call,
        owner_id=owner_id,
        delivered=True,
        charge_msat=request.worst_msat,
        prompt_tokens=result.prompt_tokens,
    )
    return Scored(
        scores=result.scores, prompt_tokens=result.prompt_tokens, charged_msat=request.worst_msat
    )
