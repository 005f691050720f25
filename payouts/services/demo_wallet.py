"""The fake node's demo wallet: pays any unpaid invoice of the fake node and hands back its
preimage (L402 credits and deposits without a real wallet). Fake backend only."""

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from ..bolt11_decode import InvalidInvoice, decode
from ..errors import BackendNotFake, InvoiceNotPayable
from ..lightning import get_backend
from ..lightning.fake import FakeBackend
from ..models import FakeNodeInvoice


def pay_fake_invoice(*, bolt11: str) -> str:
    """The preimage of the fake node's invoice `bolt11`, paying it if it was unpaid (a wallet
    that retries gets the same preimage)."""
    if settings.LIGHTNING_BACKEND != "fake" or not isinstance(get_backend(), FakeBackend):
        raise BackendNotFake("The demo wallet pays the fake Lightning node's invoices only.")
    try:
        decoded = decode(bolt11)
    except InvalidInvoice as exc:
        raise InvoiceNotPayable({"bolt11": [f"Not a valid invoice: {exc}."]}) from exc
    now = timezone.now()
    with transaction.atomic():
        invoice = (
            FakeNodeInvoice.objects.select_for_update()
            .filter(payment_hash=decoded.payment_hash, bolt11=bolt11.strip())
            .first()
        )
        if invoice is None:
            raise BackendNotFake("The fake node issued no such invoice.")
        if invoice.paid_at is None:
            if invoice.expires_at <= now:
                raise InvoiceNotPayable({"bolt11": ["The invoice has expired."]})
            invoice.paid_at = now
            invoice.save(update_fields=["paid_at"])
    return invoice.preimage
