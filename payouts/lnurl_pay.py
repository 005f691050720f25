"""Lightning Address (LUD-16) payouts: resolve `name@domain` to an LNURL-pay service,
fetch an invoice for the amount and check it before it may be paid (LUD-06: amount and
description hash = sha256 of the service's metadata)."""

import hashlib
import ipaddress
import logging
import re
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

from django.conf import settings
from django.utils.translation import gettext as _

from core import outbound

from .errors import InvoiceRefused
from .invoices import CheckedInvoice, check_invoice, decode_invoice

logger = logging.getLogger(__name__)

ADDRESS = re.compile(r"^(?P<name>[a-z0-9\-_.+]+)@(?P<domain>[a-z0-9\-.]+(:\d{1,5})?)$")


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
        raise AddressError(_("Not a Lightning Address (name@domain)."))
    domain = match["domain"]
    scheme = "http" if _local_test_service(domain.split(":")[0]) else "https"
    return f"{scheme}://{domain}/.well-known/lnurlp/{match['name']}"


def _local_test_service(host: str) -> bool:
    """Plain http only for a service on this machine, and only when the settings allow
    private addresses (local tests); core.outbound refuses it otherwise anyway."""
    if not settings.LIGHTNING_ADDRESS_ALLOW_PRIVATE:
        return False
    try:
        return host == "localhost" or ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _get_json(url: str) -> dict[str, Any]:
    try:
        body = outbound.get_json(url, allow_private=settings.LIGHTNING_ADDRESS_ALLOW_PRIVATE)
    except outbound.OutboundError as exc:
        raise AddressError(str(exc)) from exc
    if not isinstance(body, dict):
        raise AddressError(_("The address's service gave no JSON object."))
    if str(body.get("status", "")).upper() == "ERROR":
        # The service's own reason is not ours to echo to the user; it is logged.
        logger.warning("lnurl-pay service refused: %r", str(body.get("reason", ""))[:300])
        raise AddressError(_("The address's service refused the request."))
    return body


def resolve(address: str) -> PayRequest:
    body = _get_json(lnurlp_url(address))
    try:
        if body.get("tag") != "payRequest":
            raise AddressError(_("The address does not lead to an LNURL-pay service."))
        return PayRequest(
            callback=str(body["callback"]),
            min_msat=int(body["minSendable"]),
            max_msat=int(body["maxSendable"]),
            metadata=str(body["metadata"]),
        )
    except (KeyError, TypeError, ValueError) as exc:
        raise AddressError(_("The address's payRequest is incomplete.")) from exc


def fetch_invoice(pay_request: PayRequest, *, amount_msat: int) -> CheckedInvoice:
    """An invoice for exactly `amount_msat` whose description hash commits to the
    service's metadata; AddressError otherwise."""
    if not pay_request.min_msat <= amount_msat <= pay_request.max_msat:
        raise AddressError(
            _("The address accepts %(min)s..%(max)s msat.")
            % {"min": pay_request.min_msat, "max": pay_request.max_msat}
        )
    separator = "&" if "?" in pay_request.callback else "?"
    body = _get_json(f"{pay_request.callback}{separator}{urlencode({'amount': amount_msat})}")
    pr = body.get("pr")
    if not isinstance(pr, str):
        raise AddressError(_("The address's service gave no invoice."))
    try:
        decoded = decode_invoice(pr)
        invoice = check_invoice(pr, min_msat=amount_msat, max_msat=amount_msat, decoded=decoded)
    except InvoiceRefused as refused:
        raise AddressError(
            _("Bad invoice from the address: %(reason)s") % {"reason": refused}
        ) from refused
    expected = hashlib.sha256(pay_request.metadata.encode()).hexdigest()
    if decoded.description_hash != expected:
        raise AddressError(_("The invoice's description hash does not match the metadata."))
    return invoice
