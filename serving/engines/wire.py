"""The OpenAI wire format both sides of the engine transport use: request bodies from
ChatParams, chunks from Pieces, and back."""

import json
import time
from typing import Any

from .base import ChatParams, Piece, Usage


def chat_body(params: ChatParams, *, model: str, stream: bool) -> dict[str, Any]:
    body: dict[str, Any] = {
        "model": model,
        "messages": params.messages,
        "max_tokens": params.max_tokens,
        "temperature": params.temperature,
        "top_p": params.top_p,
        "n": params.n,
        "stream": stream,
    }
    if params.stop:
        body["stop"] = params.stop
    if stream:
        body["stream_options"] = {"include_usage": True}
    return body


def params_from_body(body: dict[str, Any]) -> ChatParams:
    stop = body.get("stop") or []
    return ChatParams(
        messages=[{"role": m["role"], "content": m["content"]} for m in body["messages"]],
        max_tokens=int(body.get("max_tokens") or 16),
        temperature=float(body.get("temperature", 1.0)),
        top_p=float(body.get("top_p", 1.0)),
        stop=[stop] if isinstance(stop, str) else list(stop),
        n=int(body.get("n") or 1),
    )


def usage_body(usage: Usage) -> dict[str, int]:
    return {
        "prompt_tokens": usage.prompt_tokens,
        "completion_tokens": usage.completion_tokens,
        "total_tokens": usage.prompt_tokens + usage.completion_tokens,
    }


def chunk(call_id: str, model: str, created: int, piece: Piece | Usage) -> dict[str, Any]:
    body: dict[str, Any] = {
        "id": call_id,
        "object": "chat.completion.chunk",
        "created": created,
        "model": model,
    }
    if isinstance(piece, Usage):
        return body | {"choices": [], "usage": usage_body(piece)}
    delta = {"role": "assistant", "content": piece.text} if piece.text else {}
    choice = {"index": piece.index, "delta": delta, "finish_reason": piece.finish_reason}
    return body | {"choices": [choice]}


def sse(data: dict[str, Any] | str) -> bytes:
    text = data if isinstance(data, str) else json.dumps(data, separators=(",", ":"))
    return f"data: {text}\n\n".encode()


def completion(call_id: str, model: str, pieces: list[Piece], usage: Usage) -> dict[str, Any]:
    """A whole (non-streamed) chat completion from its pieces."""
    texts: dict[int, list[str]] = {}
    reasons: dict[int, str | None] = {}
    for piece in pieces:
        texts.setdefault(piece.index, []).append(piece.text)
        if piece.finish_reason:
            reasons[piece.index] = piece.finish_reason
    return {
        "id": call_id,
        "object": "chat.completion",
        "created": int(time.time()),
        "model": model,
        "choices": [
            {
                "index": index,
                "message": {"role": "assistant", "content": "".join(texts[index])},
                "finish_reason": reasons.get(index, "length"),
            }
            for index in sorted(texts)
        ],
        "usage": usage_body(usage),
    }
