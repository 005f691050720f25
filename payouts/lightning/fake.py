"""An in-process simulated node (the embedded default)."""

from django.conf import settings

from .base import LightningBackend, NodeInfo


class FakeBackend(LightningBackend):
    name = "fake"

    def info(self) -> NodeInfo:
        return NodeInfo(backend=self.name, network=settings.LIGHTNING_NETWORK)
