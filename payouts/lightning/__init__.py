"""Lightning node backends behind one small interface; LIGHTNING_BACKEND picks one."""

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


def backend_named(name: str) -> LightningBackend:
    if name == "fake":
        from .fake import FakeBackend

        return FakeBackend()
    if name == "lnd":
        from .lnd import LndBackend

        return LndBackend.from_settings()
    if name == "cln":
        from .cln import ClnBackend

        return ClnBackend.from_settings()
    if name == "lnbits":
        from .lnbits import LnbitsBackend

        return LnbitsBackend.from_settings()
    raise NotImplementedError(f"Unknown Lightning backend {name!r}.")


@cache
def get_backend() -> LightningBackend:
    return backend_named(settings.LIGHTNING_BACKEND)
