"""An engine process: one Engine behind the OpenAI-compatible HTTP API the gateway speaks
(`/v1/chat/completions`, streamed or not, `/v1/rewards`, `/v1/models`, `/health`).

    python -m serving.engines.server --engine transformers --kind policy --model-dir DIR \
        --name my-model --port 8101
"""

import argparse
import json
import secrets
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from . import wire
from .base import Engine, EngineError, Piece, Usage


def handler_for(engine: Engine, name: str) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.0"  # one request per connection; a stream ends at close

        def log_message(self, *args: Any) -> None:
            pass

        def _json(self, status: int, body: dict[str, Any]) -> None:
            data = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def do_GET(self) -> None:
            if self.path == "/health":
                self._json(200, {"status": "ok", "model": name})
            elif self.path == "/v1/models":
                self._json(200, {"object": "list", "data": [{"id": name, "object": "model"}]})
            else:
                self._json(404, {"error": {"message": "Not found.", "type": "not_found"}})

        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            try:
                body = json.loads(self.rfile.read(length))
                if self.path == "/v1/chat/completions":
                    self._chat(body)
                elif self.path == "/v1/rewards":
                    scored = engine.score(prompt=body["prompt"], responses=body["responses"])
                    usage = {
                        "prompt_tokens": scored.prompt_tokens,
                        "total_tokens": scored.prompt_tokens,
                    }
                    self._json(200, {"model": name, "scores": scored.scores, "usage": usage})
                else:
                    self._json(404, {"error": {"message": "Not found.", "type": "not_found"}})
            except (KeyError, TypeError, ValueError) as exc:
                self._json(400, {"error": {"message": str(exc), "type": "invalid_request_error"}})
            except EngineError as exc:
                self._json(500, {"error": {"message": str(exc), "type": "engine_error"}})

        def _chat(self, body: dict[str, Any]) -> None:
            params = wire.params_from_body(body)
            call_id = f"chatcmpl-{secrets.token_hex(12)}"
            if not body.get("stream"):
                pieces: list[Piece] = []
                usage = Usage(0, 0)
                for event in engine.chat(params):
                    if isinstance(event, Usage):
                        usage = event
                    else:
                        pieces.append(event)
                self._json(200, wire.completion(call_id, name, pieces, usage))
                return
            created = int(time.time())
            self.send_response(200)
            self.send_header("Content-Type", "text/event-stream")
            self.send_header("Cache-Control", "no-cache")
            self.end_headers()
            for event in engine.chat(params):
                self.wfile.write(wire.sse(wire.chunk(call_id, name, created, event)))
                self.wfile.flush()
            self.wfile.write(wire.sse("[DONE]"))
            self.wfile.flush()

    return Handler


def build_engine(args: argparse.Namespace) -> Engine:
    if args.engine == "echo":
        from .echo import EchoEngine

        return EchoEngine(exit_after=args.exit_after, stall_after=args.stall_after)
    from .transformers_engine import TransformersEngine

    return TransformersEngine(args.model_dir, kind=args.kind)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--engine", choices=["transformers", "echo"], default="transformers")
    parser.add_argument("--kind", choices=["policy", "reward"], default="policy")
    parser.add_argument("--model-dir", default="")
    parser.add_argument("--name", default="model")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--exit-after", type=int, default=None, help="Tests: die after N tokens.")
    parser.add_argument("--stall-after", type=int, default=None, help="Tests: hang after N tokens.")
    args = parser.parse_args(argv)
    server = ThreadingHTTPServer((args.host, args.port), handler_for(build_engine(args), args.name))
    server.daemon_threads = True
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()


if __name__ == "__main__":
    main()
