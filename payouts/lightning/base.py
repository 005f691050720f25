"""The one small interface every Lightning backend implements, and what it returns.

Errors say whether a payment may have left the node: `NodeUnavailable` means it surely
did not (safe to retry), `NodeTimeout` means nobody knows (leave the withdrawal `paying`
and let reconciliation ask the node by payment hash).
"""

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum


@dataclass(frozen=True)
class NodeInfo:
    backend: str
    network: str


@dataclass(frozen=True)
class Invoice:
    bolt11: str
    payment_hash: str
    amount_msat: int
    expires_at: datetime


class InvoiceState(StrEnum):
    UNPAID = "unpaid"
    PAID = "paid"
    EXPIRED = "expired"


class PaymentState(StrEnum):
    SUCCEEDED = "succeeded"
    FAILED = "failed"  # definite: no money left and none will
    PENDING = "pending"  # in flight
    NOT_FOUND = "not_found"  # the node never saw this payment hash
    UNKNOWN = "unknown"  # the node could not say


@dataclass(frozen=True)
class PaymentResult:
    state: PaymentState
    fee_msat: int = 0
    preimage: str = ""
    reason: str = ""


class NodeError(Exception):
    """The node refused or failed a request."""


class NodeUnavailable(NodeError):
    """The request never reached the node (or was refused before any payment): retry later."""


class NodeTimeout(NodeError):
    """No answer in time: a payment may or may not be in flight."""


NETWORK_PREFIXES = {"bitcoin": "bc", "testnet": "tb", "signet": "tbs", "regtest": "bcrt"}


class LightningBackend:
    name = "base"
    # A remote node gives up on a payment after its pay timeout; wait this much longer for
    # its answer.
    http_margin = 10.0

    def info(self) -> NodeInfo:
        raise NotImplementedError

    def create_invoice(self, *, amount_msat: int, memo: str, expiry_seconds: int) -> Invoice:
        raise NotImplementedError

    def pay_invoice(self, *, bolt11: str, idempotency_key: str, max_fee_msat: int) -> PaymentResult:
        """Pays at most once per idempotency key (the invoice's payment hash)."""
        raise NotImplementedError

    def payment_status(self, *, payment_hash: str) -> PaymentResult:
        raise NotImplementedError

    def invoice_status(self, *, payment_hash: str) -> InvoiceState:
        raise NotImplementedError
