"""The gateway's side of the transport: any OpenAI-compatible server (an engine process of
ours, vLLM, `transformers serve`) as an Engine. Streams are read as they arrive."""

import http.client
import json
from collections.abc import Iterator
from typing import Any
from urllib.parse import urlsplit

from . import wire
from .base import ChatParams, Engine, EngineError, EngineTimeout, Piece, Scores, Usage


class UpstreamEngine(Engine):
    def __init__(
        self, base_url: str, *, model: str, api_key: str = "", timeout: float = 60.0
    ) -> None:
        parts = urlsplit(base_url.rstrip("/"))
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise EngineError(f"not an engine URL: {base_url!r}")
        self.https = parts.scheme == "https"
        self.host, self.port = parts.hostname, parts.port
        # A vLLM base URL ends in /v1; our engines answer at /v1 under their root.
        self.prefix = parts.path if parts.path.endswith("/v1") else parts.path + "/v1"
        self.model, self.api_key, self.timeout = model, api_key, timeout

    def _post(self, path: str, body: dict[str, Any]) -> http.client.HTTPResponse:
        kind = http.client.HTTPSConnection if self.https else http.client.HTTPConnection
        connection = kind(self.host, self.port, timeout=self.timeout)
        headers = {"Content-Type": "application/json"}
        if self.api_key:
            headers["Authorization"] = f"Bearer {self.api_key}"
        try:
            connection.request("POST", self.prefix + path, json.dumps(body), headers)
            response = connection.getresponse()
        except TimeoutError as exc:
            connection.close()
            raise EngineTimeout("no answer in time") from exc
        except (OSError, http.client.HTTPException) as exc:
            connection.close()
            raise EngineError(f"engine unreachable: {exc}") from exc
        if response.status != 200:
            detail = response.read(2000).decode(errors="replace")
            connection.close()
            raise EngineError(f"engine answered {response.status}: {detail}")
        return response

    def chat(self, params: ChatParams, *, stream: bool = True) -> Iterator[Piece | Usage]:
        """The answer as pieces, then the usage. `stream=False` asks for the whole answer in
        one body (less work on both sides when the caller wants it whole anyway)."""
        response = self._post(
            "/chat/completions", wire.chat_body(params, model=self.model, stream=stream)
        )
        try:
            yield from _read_stream(response) if stream else _read_whole(response)
        except TimeoutError as exc:
            raise EngineTimeout("the engine stopped answering") from exc
        except (OSError, http.client.HTTPException, ValueError) as exc:
            raise EngineError(f"the stream broke: {exc}") from exc
        finally:
            response.close()

    def score(self, *, prompt: str, responses: list[str]) -> Scores:
        response = self._post(
            "/rewards", {"model": self.model, "prompt": prompt, "responses": responses}
        )
        try:
            body = json.loads(response.read())
            scores = [float(s) for s in body["scores"]]
            usage = body.get("usage") or {}
            return Scores(scores=scores, prompt_tokens=int(usage.get("prompt_tokens", 0)))
        except TimeoutError as exc:
            raise EngineTimeout("no answer in time") from exc
        except (OSError, KeyError, TypeError, ValueError, http.client.HTTPException) as exc:
            raise EngineError(f"bad answer from the engine: {exc}") from exc
        finally:
            response.close()


def _read_whole(response: http.client.HTTPResponse) -> Iterator[Piece | Usage]:
    """A non-streamed completion as the pieces of its choices, then its usage (which an
    OpenAI-compatible server always sends: without it the answer is refused, uncharged)."""
    body = json.loads(response.read())
    usage = body.get("usage")
    if not isinstance(usage, dict):
        raise ValueError("no usage in the answer")
    pieces = [
        Piece(
            int(choice.get("index", 0)),
            (choice.get("message") or {}).get("content") or "",
            choice.get("finish_reason"),
        )
        for choice in body.get("choices") or []
    ]
    yield from pieces
    yield Usage(int(usage.get("prompt_tokens") or 0), int(usage.get("completion_tokens") or 0))


def _read_stream(response: http.client.HTTPResponse) -> Iterator[Piece | Usage]:
    """Pieces from OpenAI chunks; the usage chunk last. A stream that ends without [DONE]
    broke: EngineError, after the pieces that did arrive."""
    for raw in response:
        line = raw.strip()
        if not line.startswith(b"data:"):
            continue
        data = line[5:].strip()
        if data == b"[DONE]":
            return
        chunk = json.loads(data)
        if chunk.get("usage"):
            usage = chunk["usage"]
            yield Usage(
                int(usage.get("prompt_tokens") or 0), int(usage.get("completion_tokens") or 0)
            )
        for choice in chunk.get("choices") or []:
            text = (choice.get("delta") or {}).get("content") or ""
            if text or choice.get("finish_reason"):
                yield Piece(int(choice.get("index", 0)), text, choice.get("finish_reason"))
    raise EngineError("the stream ended before [DONE]")
