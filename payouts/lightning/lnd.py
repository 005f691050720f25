"""lnd over its REST API (the grpc-gateway): invoices on /v1, payments on /v2/router.

Payments go through SendPaymentV2, which lnd itself refuses to repeat for a payment hash
it has already paid or is paying, so the hash is the idempotency key on the node too.
"""

import base64
from datetime import UTC, datetime
from typing import Any

from django.conf import settings

from .base import (
    Invoice,
    InvoiceState,
    LightningBackend,
    NodeError,
    NodeInfo,
    PaymentResult,
    PaymentState,
)
from .http import HttpError, JsonClient

PAYMENT_STATES = {
    "SUCCEEDED": PaymentState.SUCCEEDED,
    "FAILED": PaymentState.FAILED,
    "IN_FLIGHT": PaymentState.PENDING,
    "INITIATED": PaymentState.PENDING,
}


class LndBackend(LightningBackend):
    name = "lnd"

    def __init__(self, *, url: str, macaroon_hex: str, tls_cert: str = "", timeout: float = 30):
        self.client = JsonClient(
            url,
            headers={"Grpc-Metadata-macaroon": macaroon_hex},
            timeout=timeout,
            tls_cert=tls_cert,
        )
        self.pay_timeout = timeout

    @classmethod
    def from_settings(cls) -> "LndBackend":
        return cls(
            url=settings.LND_REST_URL,
            macaroon_hex=settings.LND_MACAROON_HEX,
            tls_cert=settings.LND_TLS_CERT,
            timeout=settings.PAYOUT_NODE_TIMEOUT_SECONDS,
        )

    def info(self) -> NodeInfo:
        body = self.client.request("GET", "/v1/getinfo")
        chains = body.get("chains") or [{}]
        return NodeInfo(backend=self.name, network=chains[0].get("network", "unknown"))

    def create_invoice(self, *, amount_msat: int, memo: str, expiry_seconds: int) -> Invoice:
        body = self.client.request(
            "POST",
            "/v1/invoices",
            {"value_msat": str(amount_msat), "memo": memo, "expiry": str(expiry_seconds)},
        )
        created = int(datetime.now(UTC).timestamp())
        return Invoice(
            bolt11=body["payment_request"],
            payment_hash=base64.b64decode(body["r_hash"]).hex(),
            amount_msat=amount_msat,
            expires_at=datetime.fromtimestamp(created + expiry_seconds, tz=UTC),
        )

    def invoice_status(self, *, payment_hash: str) -> InvoiceState:
        try:
            body = self.client.request("GET", f"/v1/invoice/{payment_hash}")
        except HttpError as exc:
            if exc.status == 404:
                raise KeyError(payment_hash) from exc
            raise
        if body.get("state") == "SETTLED":
            return InvoiceState.PAID
        if body.get("state") == "CANCELED":
            return InvoiceState.EXPIRED
        return InvoiceState.UNPAID

    def pay_invoice(self, *, bolt11: str, idempotency_key: str, max_fee_msat: int) -> PaymentResult:
        try:
            body = self.client.request(
                "POST",
                "/v2/router/send",
                {
                    "payment_request": bolt11,
                    "fee_limit_msat": str(max_fee_msat),
                    "timeout_seconds": int(self.pay_timeout),
                    "no_inflight_updates": True,
                },
                timeout=self.pay_timeout + self.http_margin,
            )
        except HttpError as exc:
            return self._refused(exc, idempotency_key)
        updates = body if isinstance(body, list) else [body]
        if updates and isinstance(updates[-1], dict) and "error" in updates[-1]:
            # The gateway reports a stream's error in the body, after a 200.
            return self._refused(HttpError(200, updates[-1]), idempotency_key)
        return self._last_payment(body, idempotency_key)

    def payment_status(self, *, payment_hash: str) -> PaymentResult:
        hash_b64 = base64.urlsafe_b64encode(bytes.fromhex(payment_hash)).decode()
        try:
            body = self.client.request(
                "GET", f"/v2/router/track/{hash_b64}?no_inflight_updates=true", timeout=10
            )
        except HttpError as exc:
            if exc.status == 404 or "not initiated" in _message(exc.body).replace("n't", " not"):
                return PaymentResult(PaymentState.NOT_FOUND)
            raise
        return self._last_payment(body, payment_hash)

    def _refused(self, exc: HttpError, payment_hash: str) -> PaymentResult:
        message = _message(exc.body).lower()
        if "already paid" in message or "already exists" in message:
            return self.payment_status(payment_hash=payment_hash)  # paid before: report it
        if "in transition" in message or "in flight" in message:
            return PaymentResult(PaymentState.PENDING)
        if exc.status in (400, 404, 409, 412):  # the node refused this invoice outright
            return PaymentResult(PaymentState.FAILED, reason=message or f"HTTP {exc.status}")
        raise exc  # 5xx and the like: unknown, leave it to reconciliation

    def _last_payment(self, body: Any, payment_hash: str) -> PaymentResult:
        updates = body if isinstance(body, list) else [body]
        for update in reversed(updates):
            if "error" in update:
                if "not initiated" in _message(update).replace("n't", " not"):
                    return PaymentResult(PaymentState.NOT_FOUND)
                raise HttpError(500, update)
            payment = update.get("result", update)
            if "status" in payment:
                state = PAYMENT_STATES.get(payment["status"], PaymentState.UNKNOWN)
                return PaymentResult(
                    state,
                    fee_msat=int(payment.get("fee_msat") or 0),
                    preimage=_hex(payment.get("payment_preimage", "")),
                    reason=""
                    if state != PaymentState.FAILED
                    else str(payment.get("failure_reason", "FAILED")),
                )
        raise NodeError(f"lnd gave no payment status for {payment_hash}: {body!r:.200}")


def _message(body: Any) -> str:
    if isinstance(body, list) and body:
        body = body[-1]
    if isinstance(body, dict):
        error = body.get("error", body)
        if isinstance(error, dict):
            return str(error.get("message", ""))
    return str(body)


def _hex(value: str) -> str:
    """lnd's REST gives preimages as hex in Payment (and base64 in some older fields)."""
    if not value or value.strip("0") == "":
        return ""
    try:
        bytes.fromhex(value)
        return value
    except ValueError:
        return base64.b64decode(value).hex()
