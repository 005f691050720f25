"""Lightning node backends behind one small interface; LIGHTNING_BACKEND picks one."""

from collections.abc import Callable
from functools import cache

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured

from ..models import FakeNodeInvoice
from .base import (
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
from .cln import ClnBackend
from .fake import FakeBackend
from .lnbits import LnbitsBackend
from .lnd import LndBackend

__all__ = [
    "Invoice",
    "InvoiceState",
    "LightningBackend",
    "NodeError",
    "NodeInfo",
    "NodeTimeout",
    "NodeUnavailable",
    "PaymentResult",
    "PaymentState",
    "get_backend",
]


BACKENDS: dict[str, Callable[[], LightningBackend]] = {
    "fake": FakeBackend,
    "lnd": LndBackend.from_settings,
    "cln": ClnBackend.from_settings,
    "lnbits": LnbitsBackend.from_settings,
}


def backend_named(name: str) -> LightningBackend:
    if name not in BACKENDS:
        raise NotImplementedError(f"Unknown Lightning backend {name!r}.")
    return BACKENDS[name]()


CLEAR_FAKE_MONEY = "python manage.py clear_fake_money --yes"


class FakeMoneyOnRealNode(ImproperlyConfigured):
    """A real node over a database whose money the fake node minted."""


def refuse_fake_money() -> None:
    """Deposits the fake node "received" were never paid: that credit must never be
    withdrawn through a real node."""
    paid = FakeNodeInvoice.objects.filter(paid_at__isnull=False).count()
    if paid:
        raise FakeMoneyOnRealNode(
            f"LIGHTNING_BACKEND={settings.LIGHTNING_BACKEND}, but this database holds credit "
            f"from {paid} invoice(s) the fake Lightning node settled. Use a fresh database, "
            f"or run `{CLEAR_FAKE_MONEY}` (it deletes every money record and closes open batches)."
        )


@cache
def get_backend() -> LightningBackend:
    backend = backend_named(settings.LIGHTNING_BACKEND)
    if not isinstance(backend, FakeBackend):
        refuse_fake_money()  # checked once per process: get_backend is cached
    return backend
