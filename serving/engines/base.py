"""The interface every engine implements: chat (a stream of text pieces, then usage) and
score (one reward per response)."""

from collections.abc import Iterator
from dataclasses import dataclass, field


@dataclass(frozen=True)
class ChatParams:
    messages: list[dict[str, str]]
    max_tokens: int
    temperature: float = 1.0
    top_p: float = 1.0
    stop: list[str] = field(default_factory=list)
    n: int = 1


@dataclass(frozen=True)
class Piece:
    """Generated text for choice `index`: one token, or the choice's end (`finish_reason`)."""

    index: int
    text: str
    finish_reason: str | None = None


@dataclass(frozen=True)
class Usage:
    prompt_tokens: int
    completion_tokens: int


@dataclass(frozen=True)
class Scores:
    scores: list[float]
    prompt_tokens: int


class EngineError(Exception):
    """The engine failed or went away."""


class EngineTimeout(EngineError):
    """The engine did not answer in time."""


class Engine:
    """What the gateway and the engine server both speak."""

    def chat(self, params: ChatParams) -> Iterator[Piece | Usage]:
        """Pieces as they are generated, then one Usage last."""
        raise NotImplementedError

    def score(self, *, prompt: str, responses: list[str]) -> Scores:
        raise NotImplementedError


def cut_at_stop(text: str, stop: list[str]) -> tuple[str, bool]:
    """The text up to the first stop string, and whether one was found."""
    cuts = [text.index(s) for s in stop if s and s in text]
    return (text[: min(cuts)], True) if cuts else (text, False)
