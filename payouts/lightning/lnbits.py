"""An LNbits wallet through its API with the wallet's admin key.

LNbits keys payments by payment hash and refuses to pay an invoice it already paid, so
the hash is the idempotency key there too.
"""

from datetime import UTC, datetime, timedelta
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


class LnbitsBackend(LightningBackend):
    name = "lnbits"

    def __init__(self, *, url: str, admin_key: str, timeout: float = 30):
        self.client = JsonClient(url, headers={"X-Api-Key": admin_key}, timeout=timeout)
        self.pay_timeout = timeout

    @classmethod
    def from_settings(cls) -> "LnbitsBackend":
        return cls(
            url=settings.LNBITS_URL,
            admin_key=settings.LNBITS_ADMIN_KEY,
            timeout=settings.PAYOUT_NODE_TIMEOUT_SECONDS,
        )

    def info(self) -> NodeInfo:
        self.client.request("GET", "/api/v1/wallet")  # reachable and the key works
        # LNbits does not report its chain; the site's configured network is what it pays on.
        return NodeInfo(backend=self.name, network=settings.LIGHTNING_NETWORK)

    def create_invoice(self, *, amount_msat: int, memo: str, expiry_seconds: int) -> Invoice:
        if amount_msat % 1000:
            raise ValueError("LNbits invoices are in whole sats.")
        body = self.client.request(
            "POST",
            "/api/v1/payments",
            {"out": False, "amount": amount_msat // 1000, "memo": memo, "expiry": expiry_seconds},
        )
        return Invoice(
            bolt11=body.get("bolt11") or body["payment_request"],
            payment_hash=body["payment_hash"],
            amount_msat=amount_msat,
            expires_at=datetime.now(UTC) + timedelta(seconds=expiry_seconds),
        )

    def _payment(self, payment_hash: str) -> dict[str, Any] | None:
        try:
            return self.client.request("GET", f"/api/v1/payments/{payment_hash}")
        except HttpError as exc:
            if exc.status == 404:
                return None
            raise

    def invoice_status(self, *, payment_hash: str) -> InvoiceState:
        body = self._payment(payment_hash)
        if body is None:
            raise KeyError(payment_hash)
        if body.get("paid"):
            return InvoiceState.PAID
        status = (body.get("details") or {}).get("status")
        return InvoiceState.EXPIRED if status in ("expired", "failed") else InvoiceState.UNPAID

    def pay_invoice(self, *, bolt11: str, idempotency_key: str, max_fee_msat: int) -> PaymentResult:
        try:
            self.client.request(
                "POST",
                "/api/v1/payments",
                {"out": True, "bolt11": bolt11},
                timeout=self.pay_timeout + self.http_margin,
            )
        except HttpError as exc:
            if exc.status in (400, 402, 403, 404, 409, 422, 520):
                known = self.payment_status(payment_hash=idempotency_key)
                if known.state in (PaymentState.SUCCEEDED, PaymentState.PENDING):
                    return known  # paid (or paying) before: never twice
                detail = exc.body.get("detail") if isinstance(exc.body, dict) else exc.body
                return PaymentResult(PaymentState.FAILED, reason=str(detail)[:300])
            raise
        return self.payment_status(payment_hash=idempotency_key)

    def payment_status(self, *, payment_hash: str) -> PaymentResult:
        body = self._payment(payment_hash)
        if body is None:
            return PaymentResult(PaymentState.NOT_FOUND)
        details = body.get("details") or {}
        if body.get("paid") or details.get("status") == "success":
            return PaymentResult(
                PaymentState.SUCCEEDED,
                fee_msat=abs(int(details.get("fee") or 0)),
                preimage=body.get("preimage") or details.get("preimage") or "",
            )
        if details.get("status") == "failed":
            return PaymentResult(PaymentState.FAILED, reason="failed")
        if details.get("status") == "pending" or details:
            return PaymentResult(PaymentState.PENDING)
        return PaymentResult(PaymentState.UNKNOWN)
