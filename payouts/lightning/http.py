"""A small JSON-over-HTTP client for the node backends (stdlib only).

It sorts failures the way the payment job needs them: `NodeUnavailable` when the request
surely never reached the node (connection refused, DNS), `NodeTimeout` when it may have,
and `HttpError` (with status and parsed body) when the node answered with an error.
"""

import http.client
import json
import socket
import ssl
import urllib.error
import urllib.request
from dataclasses import dataclass
from typing import Any

from .base import NodeError, NodeTimeout, NodeUnavailable


@dataclass
class HttpError(NodeError):
    status: int
    body: Any

    def __str__(self) -> str:
        return f"HTTP {self.status}: {self.body}"


class JsonClient:
    def __init__(
        self,
        base_url: str,
        *,
        headers: dict[str, str],
        timeout: float,
        tls_cert: str = "",
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.headers = {"Accept": "application/json", **headers}
        self.timeout = timeout
        self.context = None
        if self.base_url.startswith("https://"):
            # A node's self-signed certificate (lnd's tls.cert), or the system's CAs.
            self.context = ssl.create_default_context(cafile=tls_cert or None)
            if tls_cert:
                self.context.check_hostname = False

    def request(
        self, method: str, path: str, body: Any = None, *, timeout: float | None = None
    ) -> Any:
        data = None if body is None else json.dumps(body).encode()
        headers = dict(self.headers)
        if data is not None:
            headers["Content-Type"] = "application/json"
        request = urllib.request.Request(
            f"{self.base_url}{path}", data=data, method=method, headers=headers
        )
        try:
            with urllib.request.urlopen(
                request, timeout=timeout or self.timeout, context=self.context
            ) as response:
                raw = response.read()
        except urllib.error.HTTPError as exc:
            raw = exc.read()
            raise HttpError(exc.code, _parse(raw)) from exc
        except urllib.error.URLError as exc:
            if isinstance(exc.reason, TimeoutError | socket.timeout):
                raise NodeTimeout(str(exc.reason)) from exc
            raise NodeUnavailable(str(exc.reason)) from exc
        except TimeoutError as exc:
            raise NodeTimeout("no answer in time") from exc
        except (ConnectionError, http_client_errors()) as exc:
            # The connection broke after the request went out: the outcome is unknown.
            raise NodeTimeout(f"connection lost: {exc}") from exc
        return _parse(raw)


def http_client_errors() -> type[Exception]:
    return http.client.HTTPException


def _parse(raw: bytes) -> Any:
    text = raw.decode(errors="replace").strip()
    if not text:
        return {}
    try:
        return json.loads(text)
    except json.JSONDecodeError:
        # Streaming endpoints (lnd's /v2/router/*) send one JSON object per line.
        lines = [line for line in text.splitlines() if line.strip()]
        try:
            return [json.loads(line) for line in lines]
        except json.JSONDecodeError:
            return {"raw": text[:500]}
