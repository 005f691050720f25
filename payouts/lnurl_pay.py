"""Lightning Address (LUD-16) payouts: resolve `name@domain` to an LNURL-pay service,
fetch an invoice for the amount and check it before it may be paid (LUD-06: amount and
description hash = sha256 of the service's metadata)."""

import hashlib
import re
import urllib.error
import urllib.request
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode, urlsplit

from core import hostile

from .errors import InvoiceRefused
from .invoices import CheckedInvoice, check_invoice, decode_invoice

ADDRESS = re.compile(r"^(?P<name>[a-z0-9\-_.+]+)@(?P<domain>[a-z0-9\-.]+(:\d{1,5})?)$")
LOCAL_HOSTS = {"127.0.0.1", "localhost"}
TIMEOUT_SECONDS = 10


class AddressError(Exception):
    """The address cannot be paid now; the message says why."""


@dataclass(frozen=True)
class PayRequest:
    callback: str
    min_msat: int
    max_msat: int
    metadata: str


def lnurlp_url(address: str) -> str:
    match = ADDRESS.match(address.strip().lower())
    if not match:
        raise AddressError("Not a Lightning Address (name@domain).")
    domain = match["domain"]
    # Plain http only for a local test service, as LUD-01 allows for localhost.
    scheme = "http" if domain.split(":")[0] in LOCAL_HOSTS else "https"
    return f"{scheme}://{domain}/.well-known/lnurlp/{match['name']}"


def _get_json(url: str) -> dict[str, Any]:
    parts = urlsplit(url)
    if parts.scheme != "https" and parts.hostname not in LOCAL_HOSTS:
        raise AddressError("The service must use https.")
    try:
        with urllib.request.urlopen(url, timeout=TIMEOUT_SECONDS) as response:
            body = hostile.loads(response.read(1_000_000))
    except (urllib.error.URLError, TimeoutError, ValueError, OSError) as exc:
        raise AddressError(f"The address's service did not answer: {exc}") from exc
    if not isinstance(body, dict):
        raise AddressError("The address's service gave no JSON object.")
    if str(body.get("status", "")).upper() == "ERROR":
        raise AddressError(f"The address's service refused: {body.get('reason', '')}"[:300])
    return body


def resolve(address: str) -> PayRequest:
    body = _get_json(lnurlp_url(address))
    try:
        if body.get("tag") != "payRequest":
            raise AddressError("The address does not lead to an LNURL-pay service.")
        return PayRequest(
            callback=str(body["callback"]),
            min_msat=int(body["minSendable"]),
            max_msat=int(body["maxSendable"]),
            metadata=str(body["metadata"]),
        )
    except (KeyError, TypeError, ValueError) as exc:
        raise AddressError("The address's payRequest is incomplete.") from exc


def fetch_invoice(pay_request: PayRequest, *, amount_msat: int) -> CheckedInvoice:
    """An invoice for exactly `amount_msat` whose description hash commits to the
    service's metadata; AddressError otherwise."""
    if not pay_request.min_msat <= amount_msat <= pay_request.max_msat:
        raise AddressError(
            f"The address accepts {pay_request.min_msat}..{pay_request.max_msat} msat."
        )
    separator = "&" if "?" in pay_request.callback else "?"
    body = _get_json(f"{pay_request.callback}{separator}{urlencode({'amount': amount_msat})}")
    pr = body.get("pr")
    if not isinstance(pr, str):
        raise AddressError("The address's service gave no invoice.")
    try:
        decoded = decode_invoice(pr)
        invoice = check_invoice(pr, min_msat=amount_msat, max_msat=amount_msat, decoded=decoded)
    except InvoiceRefused as refused:
        raise AddressError(f"Bad invoice from the address: {refused}") from refused
    expected = hashlib.sha256(pay_request.metadata.encode()).hexdigest()
    if decoded.description_hash != expected:
        raise AddressError("The invoice's description hash does not match the metadata.")
    return invoice
