"""A wallet provider's LNURL-pay service (LUD-06/16) on 127.0.0.1 for the Lightning Address
tests; `mode` steers its failures."""

import hashlib
import json
import threading
from http.server import BaseHTTPRequestHandler
from urllib.parse import parse_qs, urlparse

from coincurve import PrivateKey

from payouts import wallet

from .node_servers import QuickServer

METADATA = json.dumps([["text/plain", "Pay alice"], ["text/identifier", "alice@127.0.0.1"]])


class PayService:
    """A wallet provider's LNURL-pay endpoint (LUD-06/16) on 127.0.0.1."""

    def __init__(self) -> None:
        self.mode = "ok"
        self.calls = 0
        self.key = PrivateKey()
        service = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def do_GET(self):
                service.calls += 1
                url = urlparse(self.path)
                if service.mode == "error":
                    return self.reply({"status": "ERROR", "reason": "account closed"})
                if service.mode == "http-500":
                    self.send_response(500)
                    self.end_headers()
                    return None
                if url.path == "/.well-known/lnurlp/alice":
                    return self.reply(
                        {
                            "tag": "payRequest",
                            "callback": f"{service.base}/lnurlp/alice/callback",
                            "minSendable": 1_000,
                            "maxSendable": 50_000_000,
                            "metadata": METADATA,
                        }
                    )
                if url.path == "/lnurlp/alice/callback":
                    amount = int(parse_qs(url.query)["amount"][0])
                    description_hash = hashlib.sha256(METADATA.encode()).hexdigest()
                    if service.mode == "wrong-amount":
                        amount += 1_000
                    if service.mode == "wrong-hash":
                        description_hash = hashlib.sha256(b"other").hexdigest()
                    if service.mode == "garbage-invoice":
                        return self.reply({"pr": "lnbcrt1garbage", "routes": []})
                    pr, _ = wallet.make_invoice(
                        service.key,
                        amount_msat=amount,
                        network="regtest",
                        description=None,
                        description_hash=description_hash,
                    )
                    return self.reply({"pr": pr, "routes": []})
                self.send_response(404)
                self.end_headers()

            def reply(self, body):
                raw = json.dumps(body).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(raw)))
                self.end_headers()
                self.wfile.write(raw)

        self.httpd = QuickServer(("127.0.0.1", 0), Handler)
        self.base = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        self.address = f"alice@127.0.0.1:{self.httpd.server_address[1]}"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
