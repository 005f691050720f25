"""Lightning node backends behind one small interface; LIGHTNING_BACKEND picks one."""

from collections.abc import Callable
from functools import cache

from django.conf import settings

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


@cache
def get_backend() -> LightningBackend:
    return backend_named(settings.LIGHTNING_BACKEND)
