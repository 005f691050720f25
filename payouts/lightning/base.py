"""The interface every Lightning backend implements."""

from dataclasses import dataclass


@dataclass(frozen=True)
class NodeInfo:
    backend: str
    network: str


class LightningBackend:
    name = "base"

    def info(self) -> NodeInfo:
        raise NotImplementedError
