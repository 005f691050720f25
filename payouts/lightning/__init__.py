"""Lightning node backends behind one small interface; LIGHTNING_BACKEND picks one."""

from functools import cache

from django.conf import settings

from .base import LightningBackend


@cache
def get_backend() -> LightningBackend:
    from .fake import FakeBackend

    backends: dict[str, type[LightningBackend]] = {"fake": FakeBackend}
    if settings.LIGHTNING_BACKEND not in backends:
        raise NotImplementedError(f"Backend {settings.LIGHTNING_BACKEND!r} is not available yet.")
    return backends[settings.LIGHTNING_BACKEND]()
