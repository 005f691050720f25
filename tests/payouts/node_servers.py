"""Small local HTTP servers speaking lnd's REST and Core Lightning's clnrest shapes
(as documented: paths, field names, encodings, error bodies), for backend tests."""

import base64
import hashlib
import json
import secrets
import threading
import time
import urllib.error
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import bolt11


class QuickServer(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False  # a "hanging" handler must not hold up the test's teardown


class LocalServer:
    """Serves `handler` (bound to this object as `attribute`) on 127.0.0.1 in a thread."""

    def serve(self, handler: type, attribute: str) -> None:
        handler_class = type(f"Bound{handler.__name__}", (handler,), {attribute: self})
        self.httpd = QuickServer(("127.0.0.1", 0), handler_class)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


class NodeServer(LocalServer):
    """Runs a handler class on 127.0.0.1 in a thread; `mode` steers failures of a pay:
    ok | no-route | error (500, nothing sent) | error-after-send (sent, then 500) |
    pending (answers "in flight") | hang (in flight, no answer in time) |
    lost (no answer; the node sees the request only once `release` is set)."""

    def __init__(self, handler: type["Handler"]) -> None:
        self.mode = "ok"
        self.invoices: dict[str, dict[str, Any]] = {}
        self.payments: dict[str, dict[str, Any]] = {}
        self.sends: list[str] = []  # payment hashes, once per payment that left the node
        self.pay_calls = 0
        self.lock = threading.Lock()
        self.release = threading.Event()
        self.serve(handler, "node")

    def arrives(self) -> bool:
        """A `lost` request reaches the node once released (late), else never."""
        return self.mode != "lost" or self.release.wait(10)

    def new_invoice(self, amount_msat: int, memo: str, expiry: int) -> dict[str, Any]:
        from payouts.lightning.fake import sign_invoice

        preimage = secrets.token_bytes(32)
        payment_hash = hashlib.sha256(preimage).hexdigest()
        pr = sign_invoice(
            private_key=secrets.token_hex(32),
            network="regtest",
            amount_msat=amount_msat,
            payment_hash=payment_hash,
            description=memo,
            expiry_seconds=expiry,
        )
        invoice = {
            "hash": payment_hash,
            "preimage": preimage,
            "bolt11": pr,
            "paid": False,
            "expires_at": int(time.time()) + expiry,
            "amount_msat": amount_msat,
        }
        self.invoices[payment_hash] = invoice
        return invoice


class Handler(BaseHTTPRequestHandler):
    node: NodeServer
    auth_header = ""
    auth_value = ""

    def log_message(self, *args: Any) -> None:
        pass

    def body(self) -> dict[str, Any]:
        length = int(self.headers.get("Content-Length") or 0)
        return json.loads(self.rfile.read(length) or b"{}")

    def reply(self, status: int, body: Any, *, stream: bool = False) -> None:
        if stream:
            raw = "".join(json.dumps(part) + "\n" for part in body).encode()
        else:
            raw = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(raw)))
        self.end_headers()
        self.wfile.write(raw)

    def authorized(self) -> bool:
        if self.headers.get(self.auth_header) != self.auth_value:
            self.reply(401, {"code": 2, "message": "verification failed: signature mismatch"})
            return False
        return True


# --- lnd -----------------------------------------------------------------------------------


class LndHandler(Handler):
    """lnd's grpc-gateway: bytes fields in JSON are base64, int64 are strings."""

    auth_header = "Grpc-Metadata-macaroon"
    auth_value = "0201036c6e64"

    def do_GET(self) -> None:
        if not self.authorized():
            return
        path, _, _ = self.path.partition("?")
        if path == "/v1/getinfo":
            self.reply(
                200,
                {
                    "identity_pubkey": "02" + "11" * 32,
                    "chains": [{"chain": "bitcoin", "network": "regtest"}],
                    "synced_to_chain": True,
                },
            )
        elif path.startswith("/v1/invoice/"):
            invoice = self.node.invoices.get(path.rsplit("/", 1)[1])
            if invoice is None:
                self.reply(404, {"code": 5, "message": "unable to locate invoice", "details": []})
                return
            self.reply(
                200,
                {
                    "r_hash": base64.b64encode(bytes.fromhex(invoice["hash"])).decode(),
                    "value_msat": str(invoice["amount_msat"]),
                    "state": "SETTLED" if invoice["paid"] else "OPEN",
                    "settled": invoice["paid"],
                },
            )
        elif path.startswith("/v2/router/track/"):
            payment_hash = base64.urlsafe_b64decode(path.rsplit("/", 1)[1]).hex()
            payment = self.node.payments.get(payment_hash)
            if self.node.mode == "track-down":
                self.reply(503, {"code": 14, "message": "connection refused"})
            elif payment is None:
                self.reply(404, {"code": 5, "message": "payment isn't initiated", "details": []})
            else:
                self.reply(200, [{"result": payment}], stream=True)
        else:
            self.reply(404, {"code": 5, "message": "Not Found"})

    def do_POST(self) -> None:
        if not self.authorized():
            return
        body = self.body()
        if self.path == "/v1/invoices":
            invoice = self.node.new_invoice(
                int(body["value_msat"]), body.get("memo", ""), int(body.get("expiry", 3600))
            )
            self.reply(
                200,
                {
                    "r_hash": base64.b64encode(bytes.fromhex(invoice["hash"])).decode(),
                    "payment_request": invoice["bolt11"],
                    "add_index": "1",
                    "payment_addr": base64.b64encode(secrets.token_bytes(32)).decode(),
                },
            )
        elif self.path == "/v2/router/send":
            self.send_payment(body)
        else:
            self.reply(404, {"code": 5, "message": "Not Found"})

    def send_payment(self, body: dict[str, Any]) -> None:
        node = self.node
        decoded = bolt11.decode(body["payment_request"])
        payment_hash = decoded.payment_hash
        if not node.arrives():
            return
        with node.lock:
            node.pay_calls += 1
            existing = node.payments.get(payment_hash)
            if existing and existing["status"] == "SUCCEEDED":
                self.reply(
                    200,
                    [{"error": {"code": 6, "message": "invoice is already paid", "details": []}}],
                    stream=True,
                )
                return
            if existing and existing["status"] == "IN_FLIGHT":
                self.reply(
                    200,
                    [{"error": {"code": 6, "message": "payment is in transition", "details": []}}],
                    stream=True,
                )
                return
            if node.mode == "error":
                self.reply(500, {"code": 2, "message": "internal error"})
                return
            fee = int(decoded.amount_msat) // 1000
            payment = {
                "payment_hash": payment_hash,
                "value_msat": str(decoded.amount_msat),
                "creation_date": str(int(time.time())),
                "fee_msat": str(fee),
                "payment_preimage": secrets.token_hex(32),
                "status": "SUCCEEDED",
                "failure_reason": "FAILURE_REASON_NONE",
                "htlcs": [],
            }
            if node.mode == "no-route":
                payment.update(
                    status="FAILED",
                    failure_reason="FAILURE_REASON_NO_ROUTE",
                    payment_preimage="0" * 64,
                    fee_msat="0",
                )
            if node.mode in ("hang", "pending"):
                payment.update(status="IN_FLIGHT", payment_preimage="0" * 64)
            node.payments[payment_hash] = payment
            if payment["status"] != "FAILED":
                node.sends.append(payment_hash)
        if node.mode == "hang":
            time.sleep(2)  # longer than the client's timeout
        if node.mode == "error-after-send":
            self.reply(500, {"code": 2, "message": "internal error"})
            return
        self.reply(200, [{"result": payment}], stream=True)


# --- Core Lightning (clnrest) ------------------------------------------------------------


class ClnHandler(Handler):
    auth_header = "Rune"
    auth_value = "test-rune"

    def do_POST(self) -> None:
        if not self.authorized():
            return
        body = self.body()
        method = self.path.removeprefix("/v1/")
        handler = getattr(self, f"rpc_{method}", None)
        if handler is None:
            self.reply(500, {"code": -32601, "message": f"Unknown command '{method}'"})
            return
        handler(body)

    def rpc_getinfo(self, body: dict[str, Any]) -> None:
        self.reply(200, {"id": "02" + "22" * 32, "network": "regtest", "blockheight": 101})

    def rpc_invoice(self, body: dict[str, Any]) -> None:
        invoice = self.node.new_invoice(
            int(body["amount_msat"]), body["description"], int(body.get("expiry", 604800))
        )
        self.reply(
            201,
            {
                "payment_hash": invoice["hash"],
                "bolt11": invoice["bolt11"],
                "expires_at": invoice["expires_at"],
                "payment_secret": secrets.token_hex(32),
            },
        )

    def rpc_listinvoices(self, body: dict[str, Any]) -> None:
        invoice = self.node.invoices.get(body.get("payment_hash", ""))
        rows = (
            []
            if invoice is None
            else [
                {
                    "label": "x",
                    "payment_hash": invoice["hash"],
                    "amount_msat": invoice["amount_msat"],
                    "status": "paid" if invoice["paid"] else "unpaid",
                    "bolt11": invoice["bolt11"],
                }
            ]
        )
        self.reply(200, {"invoices": rows})

    def rpc_pay(self, body: dict[str, Any]) -> None:
        node = self.node
        decoded = bolt11.decode(body["bolt11"])
        if not node.arrives():
            return
        with node.lock:
            node.pay_calls += 1
            existing = node.payments.get(decoded.payment_hash)
            if existing and existing["status"] == "complete":
                self.reply(201, existing)  # CLN answers a repeat with the earlier payment
                return
            if existing and existing["status"] == "pending":
                self.reply(500, {"code": 200, "message": "Invoice is already being paid"})
                return
            if node.mode == "no-route":
                self.reply(500, {"code": 205, "message": "Could not find a route"})
                return
            if node.mode == "error":
                self.reply(500, {"code": -1, "message": "lightningd died"})
                return
            amount = int(decoded.amount_msat)
            payment = {
                "payment_hash": decoded.payment_hash,
                "amount_msat": amount,
                "amount_sent_msat": amount + 2,
                "payment_preimage": secrets.token_hex(32),
                "status": "complete",
                "parts": 1,
                "created_at": time.time(),
            }
            if node.mode in ("hang", "pending"):
                payment.update(status="pending", payment_preimage="")
            node.payments[decoded.payment_hash] = payment
            node.sends.append(decoded.payment_hash)
        if node.mode == "hang":
            time.sleep(2)
        if node.mode == "error-after-send":
            self.reply(500, {"code": -1, "message": "lightningd died"})
            return
        self.reply(201, payment)

    def rpc_listpays(self, body: dict[str, Any]) -> None:
        payment = self.node.payments.get(body.get("payment_hash", ""))
        if payment is None:
            self.reply(200, {"pays": []})
            return
        row = {
            "payment_hash": payment["payment_hash"],
            "status": payment["status"],
            "amount_msat": payment["amount_msat"],
            "amount_sent_msat": payment["amount_sent_msat"],
        }
        if payment["status"] == "complete":
            row["preimage"] = payment["payment_preimage"]
        self.reply(200, {"pays": [row]})


# --- a proxy in front of a real LNbits ---------------------------------------------------


class LnbitsProxy(LocalServer):
    """Forwards every request to a real LNbits and injects transport faults into its pay
    requests (`POST /api/v1/payments` with out=true); `fault` steers them: ok | timeout
    (LNbits pays, its answer comes too late) | error (LNbits pays, the proxy answers 502) |
    lost (the request reaches LNbits only once `release` is set) | pending (LNbits pays; its
    payment-status answers read as LNbits's answer for a pending payment until healed, since
    FakeWallet settles at once)."""

    def __init__(self, upstream: str) -> None:
        self.upstream = upstream
        self.fault = "ok"
        self.release = threading.Event()
        self.serve(ProxyHandler, "proxy")


class ProxyHandler(BaseHTTPRequestHandler):
    proxy: LnbitsProxy

    def log_message(self, *args: Any) -> None:
        pass

    def do_GET(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        data = self.rfile.read(length) if length else None
        proxy, release = self.proxy, self.proxy.release
        pays = self.command == "POST" and self.path == "/api/v1/payments"
        fault = proxy.fault if pays and json.loads(data or b"{}").get("out") else "ok"
        if fault == "lost" and not release.wait(10):
            return  # it never reached LNbits
        status, body = self.forward(data)
        if proxy.fault == "pending" and self.command == "GET" and self.path.count("/") == 4:
            body = json.dumps(pending(json.loads(body))).encode()
        if fault == "timeout":
            time.sleep(3)  # longer than the client's pay timeout
        if fault == "error":
            status, body = 502, b'{"detail": "Bad Gateway"}'
        try:
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)
        except OSError:
            pass  # the client gave up waiting

    do_POST = do_PUT = do_GET

    def forward(self, data: bytes | None) -> tuple[int, bytes]:
        headers = {k: v for k, v in self.headers.items() if k.lower() in FORWARDED_HEADERS}
        request = urllib.request.Request(
            f"{self.proxy.upstream}{self.path}", data=data, method=self.command, headers=headers
        )
        try:
            with urllib.request.urlopen(request, timeout=15) as response:
                return response.status, response.read()
        except urllib.error.HTTPError as exc:
            return exc.code, exc.read()


FORWARDED_HEADERS = {"x-api-key", "content-type", "authorization", "accept"}


def pending(answer: dict[str, Any]) -> dict[str, Any]:
    """LNbits's `GET /api/v1/payments/<hash>` answer for a pending payment of this wallet."""
    details = dict(answer.get("details") or {}, status="pending", preimage=None)
    return {"paid": False, "status": "pending", "preimage": None, "details": details}
