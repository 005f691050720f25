"""An in-process simulated node on regtest (the embedded default).

It signs real BOLT11 invoices with a key derived from SECRET_KEY, "pays" any valid invoice
at once, and keeps its invoices and payments in its own tables, so the web process, every
Celery worker and the reconcile job see one and the same node. Tests can make it fail,
hang or answer "unknown" through `FakeBackend.mode` (or FAKE_LIGHTNING_MODE).
"""

import hashlib
import os
import secrets
import time
from datetime import UTC, datetime, timedelta
from functools import cache

import bolt11
from bolt11 import Bolt11, MilliSatoshi, TagChar, Tags
from coincurve import PrivateKey
from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone

from core import sql

from ..bolt11_decode import DecodedInvoice, InvalidInvoice, decode
from ..models import FakeNodeInvoice, FakeNodePayment
from .base import (
    NETWORK_PREFIXES,
    Invoice,
    InvoiceState,
    LightningBackend,
    NodeError,
    NodeInfo,
    NodeTimeout,
    NodeUnavailable,
    PaymentResult,
    PaymentState,
)


def node_private_key() -> str:
    return hashlib.sha256(f"fake-lightning-node:{settings.SECRET_KEY}".encode()).hexdigest()


def sign_invoice(
    *,
    private_key: str,
    network: str,
    amount_msat: int | None,
    payment_hash: str,
    description: str | None = "",
    description_hash: str | None = None,
    expiry_seconds: int = 3600,
    timestamp: int | None = None,
) -> str:
    """A signed BOLT11 string; shared by the fake node and the test/CLI wallet."""
    tags = Tags()
    tags.add(TagChar.payment_hash, payment_hash)
    tags.add(TagChar.payment_secret, secrets.token_hex(32))
    if description_hash is not None:
        tags.add(TagChar.description_hash, description_hash)
    if description is not None and description_hash is None:
        tags.add(TagChar.description, description)
    tags.add(TagChar.expire_time, expiry_seconds)
    tags.add(TagChar.min_final_cltv_expiry, 18)
    invoice = Bolt11(
        currency=NETWORK_PREFIXES[network],
        date=timestamp if timestamp is not None else int(time.time()),
        tags=tags,
        amount_msat=MilliSatoshi(amount_msat) if amount_msat else None,
    )
    return bolt11.encode(invoice, private_key=private_key)


@cache
def node_public_key() -> str:
    return PrivateKey(bytes.fromhex(node_private_key())).public_key.format().hex()


class FakeBackend(LightningBackend):
    name = "fake"
    # ok | fail (definite failure) | error (refused before sending) | hang (times out with
    # the payment in flight) | pending (answers "in flight") | lost (times out before the
    # node saw the payment) | error-after-send (pays, then an internal error) | unknown (pays
    # but cannot tell) | die-after-pay (pays, then the calling process dies before it can
    # record it). Tests set it; reset to "ok".
    mode = os.environ.get("FAKE_LIGHTNING_MODE", "ok")
    hang_seconds = 0.05

    def info(self) -> NodeInfo:
        return NodeInfo(backend=self.name, network=settings.LIGHTNING_NETWORK)

    def create_invoice(self, *, amount_msat: int, memo: str, expiry_seconds: int) -> Invoice:

        preimage = secrets.token_hex(32)
        payment_hash = hashlib.sha256(bytes.fromhex(preimage)).hexdigest()
        now = timezone.now()
        pr = sign_invoice(
            private_key=node_private_key(),
            network=settings.LIGHTNING_NETWORK,
            amount_msat=amount_msat,
            payment_hash=payment_hash,
            description=memo,
            expiry_seconds=expiry_seconds,
            timestamp=int(now.timestamp()),
        )
        expires_at = now + timedelta(seconds=expiry_seconds)
        FakeNodeInvoice.objects.create(
            payment_hash=payment_hash,
            bolt11=pr,
            preimage=preimage,
            amount_msat=amount_msat,
            memo=memo,
            created_at=now,
            expires_at=expires_at,
        )
        return Invoice(
            bolt11=pr, payment_hash=payment_hash, amount_msat=amount_msat, expires_at=expires_at
        )

    def settle_invoice(self, *, payment_hash: str) -> bool:
        """Simulates a payer paying one of this node's invoices. True if it is now paid."""

        now = timezone.now()
        FakeNodeInvoice.objects.filter(
            payment_hash=payment_hash, paid_at__isnull=True, expires_at__gt=now
        ).update(paid_at=now)
        return FakeNodeInvoice.objects.filter(
            payment_hash=payment_hash, paid_at__isnull=False
        ).exists()

    def invoice_status(self, *, payment_hash: str) -> InvoiceState:

        invoice = FakeNodeInvoice.objects.filter(payment_hash=payment_hash).first()
        if invoice is None:
            raise KeyError(payment_hash)
        if invoice.paid_at is not None:
            return InvoiceState.PAID
        if invoice.expires_at <= timezone.now():
            return InvoiceState.EXPIRED
        return InvoiceState.UNPAID

    def pay_invoice(self, *, bolt11: str, idempotency_key: str, max_fee_msat: int) -> PaymentResult:

        if self.mode == "error":
            raise NodeUnavailable("fake node: connection refused")
        if self.mode == "lost":
            time.sleep(self.hang_seconds)
            raise NodeTimeout("fake node: no answer in time (the request never arrived)")
        decoded = _decode(bolt11)
        if decoded is None or decoded.payment_hash != idempotency_key:
            return PaymentResult(PaymentState.FAILED, reason="invalid invoice")
        amount_msat = int(decoded.amount_msat or 0)
        fee_msat = min(amount_msat * settings.FAKE_NODE_FEE_PPM // 1_000_000, max_fee_msat)
        state, reason, preimage = PaymentState.SUCCEEDED, "", secrets.token_hex(32)
        if decoded.currency != NETWORK_PREFIXES[settings.LIGHTNING_NETWORK]:
            state, reason = PaymentState.FAILED, "invoice for another network"
        elif decoded.has_expired():
            state, reason = PaymentState.FAILED, "invoice expired"
        elif not amount_msat:
            state, reason = PaymentState.FAILED, "invoice has no amount"
        elif self.mode == "fail":
            state, reason = PaymentState.FAILED, "no route"
        elif self.mode in ("hang", "pending"):
            state = PaymentState.PENDING
        if state != PaymentState.SUCCEEDED:
            fee_msat, preimage = 0, ""
        now = timezone.now()
        try:
            with transaction.atomic():
                payment = sql.insert(
                    FakeNodePayment(
                        payment_hash=decoded.payment_hash,
                        bolt11=bolt11,
                        amount_msat=amount_msat,
                        fee_msat=fee_msat,
                        preimage=preimage,
                        state=state,
                        reason=reason,
                        created_at=now,
                    )
                )
                own = None
                if decoded.payee == node_public_key() and state == PaymentState.SUCCEEDED:
                    own = FakeNodeInvoice.objects.filter(payment_hash=decoded.payment_hash).first()
                if own is not None:
                    payment.preimage = own.preimage  # paying ourselves: the real preimage
                    payment.save(update_fields=["preimage"])
                    FakeNodeInvoice.objects.filter(
                        payment_hash=own.payment_hash, paid_at__isnull=True
                    ).update(paid_at=now)
        except IntegrityError:
            # Same payment hash again: the node pays a hash once and reports the first try.
            return self.payment_status(payment_hash=decoded.payment_hash)
        if self.mode == "die-after-pay":
            os._exit(137)  # the process is killed between the node's send and our record
        if self.mode == "hang":
            time.sleep(self.hang_seconds)
            raise NodeTimeout("fake node: no answer in time")
        if self.mode == "unknown":
            return PaymentResult(PaymentState.UNKNOWN)
        if self.mode == "error-after-send":
            raise NodeError("fake node: internal error after sending")
        return _result(payment)

    def payment_status(self, *, payment_hash: str) -> PaymentResult:

        if self.mode == "unknown":
            return PaymentResult(PaymentState.UNKNOWN)
        if self.mode == "error":
            raise NodeUnavailable("fake node: connection refused")
        payment = FakeNodePayment.objects.filter(payment_hash=payment_hash).first()
        if payment is None:
            return PaymentResult(PaymentState.NOT_FOUND)
        return _result(payment)

    # Test helpers: finish a payment left in flight by "hang".
    @staticmethod
    def complete_pending(*, payment_hash: str, succeed: bool = True) -> None:

        FakeNodePayment.objects.filter(
            payment_hash=payment_hash, state=PaymentState.PENDING
        ).update(
            state=PaymentState.SUCCEEDED if succeed else PaymentState.FAILED,
            preimage=secrets.token_hex(32) if succeed else "",
            reason="" if succeed else "no route",
        )


def _result(payment: object) -> PaymentResult:
    return PaymentResult(
        PaymentState(payment.state),  # type: ignore[attr-defined]
        fee_msat=payment.fee_msat,  # type: ignore[attr-defined]
        preimage=payment.preimage,  # type: ignore[attr-defined]
        reason=payment.reason,  # type: ignore[attr-defined]
    )


def _decode(pr: str) -> DecodedInvoice | None:
    try:
        return decode(pr)
    except InvalidInvoice:
        return None


def utc_from_timestamp(value: int) -> datetime:
    return datetime.fromtimestamp(value, tz=UTC)
