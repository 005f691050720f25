"""Core Lightning over clnrest: every RPC method is `POST /v1/<method>` with a rune.

`pay` for an invoice CLN has already paid returns that payment instead of paying again,
and `listpays` answers by payment hash, so the hash is the idempotency key on the node too.
"""

import secrets
from datetime import UTC, datetime
from typing import Any

from django.conf import settings

from .base import (
    Invoice,
    InvoiceState,
    LightningBackend,
    NodeInfo,
    PaymentResult,
    PaymentState,
)
from .http import HttpError, JsonClient

# lightningd/pay error codes that mean "nothing was sent, and it will not be".
DEFINITE_FAILURES = {203, 205, 206, 207, 210, 212, -32602}
IN_PROGRESS = 200


class ClnBackend(LightningBackend):
    name = "cln"

    def __init__(self, *, url: str, rune: str, tls_cert: str = "", timeout: float = 30):
        self.client = JsonClient(url, headers={"Rune": rune}, timeout=timeout, tls_cert=tls_cert)
        self.pay_timeout = timeout

    @classmethod
    def from_settings(cls) -> "ClnBackend":
        return cls(
            url=settings.CLN_REST_URL,
            rune=settings.CLN_RUNE,
            tls_cert=settings.CLN_TLS_CERT,
            timeout=settings.PAYOUT_NODE_TIMEOUT_SECONDS,
        )

    def call(self, method: str, params: dict[str, Any] | None = None, **kwargs: Any) -> Any:
        return self.client.request("POST", f"/v1/{method}", params or {}, **kwargs)

    def info(self) -> NodeInfo:
        network = self.call("getinfo").get("network", "unknown")
        return NodeInfo(backend=self.name, network=network)

    def create_invoice(self, *, amount_msat: int, memo: str, expiry_seconds: int) -> Invoice:

        body = self.call(
            "invoice",
            {
                "amount_msat": amount_msat,
                "label": f"deposit-{secrets.token_hex(8)}",
                "description": memo,
                "expiry": expiry_seconds,
            },
        )
        return Invoice(
            bolt11=body["bolt11"],
            payment_hash=body["payment_hash"],
            amount_msat=amount_msat,
            expires_at=datetime.fromtimestamp(int(body["expires_at"]), tz=UTC),
        )

    def invoice_status(self, *, payment_hash: str) -> InvoiceState:
        invoices = self.call("listinvoices", {"payment_hash": payment_hash}).get("invoices", [])
        if not invoices:
            raise KeyError(payment_hash)
        return {"paid": InvoiceState.PAID, "expired": InvoiceState.EXPIRED}.get(
            invoices[0].get("status"), InvoiceState.UNPAID
        )

    def pay_invoice(self, *, bolt11: str, idempotency_key: str, max_fee_msat: int) -> PaymentResult:
        try:
            body = self.call(
                "pay",
                {"bolt11": bolt11, "maxfee": max_fee_msat, "retry_for": int(self.pay_timeout)},
                timeout=self.pay_timeout + self.http_margin,
            )
        except HttpError as exc:
            code = exc.body.get("code") if isinstance(exc.body, dict) else None
            if code == IN_PROGRESS:
                return PaymentResult(PaymentState.PENDING)
            if code in DEFINITE_FAILURES:
                return PaymentResult(PaymentState.FAILED, reason=str(exc.body.get("message", code)))
            raise
        return _result(body)

    def payment_status(self, *, payment_hash: str) -> PaymentResult:
        pays = self.call("listpays", {"payment_hash": payment_hash}).get("pays", [])
        if not pays:
            return PaymentResult(PaymentState.NOT_FOUND)
        # One complete attempt means paid; otherwise any pending one means in flight.
        for status in ("complete", "pending"):
            for pay in pays:
                if pay.get("status") == status:
                    return _result(pay)
        return _result(pays[-1])


def msat(value: Any) -> int:
    """CLN gives msat as integers (older releases: strings like "1000msat")."""
    if value is None:
        return 0
    return int(str(value).removesuffix("msat"))


def _result(pay: dict[str, Any]) -> PaymentResult:
    status = pay.get("status")
    if status == "complete":
        fee = msat(pay.get("amount_sent_msat")) - msat(pay.get("amount_msat"))
        preimage = pay.get("payment_preimage") or pay.get("preimage") or ""
        return PaymentResult(PaymentState.SUCCEEDED, fee_msat=max(fee, 0), preimage=preimage)
    if status == "failed":
        return PaymentResult(PaymentState.FAILED, reason="failed")
    if status == "pending":
        return PaymentResult(PaymentState.PENDING)
    return PaymentResult(PaymentState.UNKNOWN)
