"""Checks a wallet's BOLT11 invoice before anything is paid (LUD-03 callback)."""

from dataclasses import dataclass

from django.conf import settings

from . import bolt11_decode
from .bolt11_decode import DecodedInvoice
from .errors import InvoiceRefused
from .lightning.base import NETWORK_PREFIXES

MAX_INVOICE_LENGTH = 4000


@dataclass(frozen=True)
class CheckedInvoice:
    bolt11: str
    payment_hash: str
    amount_msat: int
    payee: str


def decode_invoice(pr: str) -> DecodedInvoice:
    """The decoded invoice; InvoiceRefused for anything that is not a well-signed BOLT11."""
    pr = (pr or "").strip()
    if pr.lower().startswith("lightning:"):
        pr = pr[len("lightning:") :]
    if not pr or len(pr) > MAX_INVOICE_LENGTH:
        raise InvoiceRefused("Missing or oversized invoice (pr).")
    try:
        decoded = bolt11_decode.decode(pr)
    except bolt11_decode.BadSignature as exc:
        raise InvoiceRefused("The invoice's signature does not match its payee.") from exc
    except bolt11_decode.InvalidInvoice as exc:
        raise InvoiceRefused("Cannot decode the invoice.") from exc
    if (decoded.description is None) == (decoded.description_hash is None):
        raise InvoiceRefused("The invoice needs exactly one of description or description hash.")
    return decoded


def check_invoice(
    pr: str, *, min_msat: int, max_msat: int, decoded: DecodedInvoice | None = None
) -> CheckedInvoice:
    """Network, amount and expiry checks (decoding first unless given the decoded invoice)."""
    decoded = decoded or decode_invoice(pr)
    expected = NETWORK_PREFIXES[settings.LIGHTNING_NETWORK]
    if decoded.currency != expected:
        raise InvoiceRefused(
            f"The invoice is for another network ({decoded.currency}); "
            f"this site pays on {settings.LIGHTNING_NETWORK}."
        )
    if not decoded.amount_msat:
        raise InvoiceRefused("The invoice has no amount.")
    amount_msat = int(decoded.amount_msat)
    if not min_msat <= amount_msat <= max_msat:
        raise InvoiceRefused(f"The amount must be between {min_msat} and {max_msat} msat.")
    if decoded.has_expired():
        raise InvoiceRefused("The invoice has expired.")
    return CheckedInvoice(
        bolt11=pr.strip().removeprefix("lightning:").removeprefix("LIGHTNING:"),
        payment_hash=decoded.payment_hash,
        amount_msat=amount_msat,
        payee=decoded.payee or "",
    )
