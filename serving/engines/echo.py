"""A trivial deterministic engine: answers with the last user message's words, one word per
token. For the gateway's tests, the demo and the benchmark; faults on request."""

import os
import time
from collections.abc import Iterator

from .base import ChatParams, Engine, Piece, Scores, Usage, cut_at_stop


def words(text: str) -> list[str]:
    return text.split()


class EchoEngine(Engine):
    def __init__(self, *, exit_after: int | None = None, stall_after: int | None = None) -> None:
        # Faults for tests: the process dies, or stops answering, after this many tokens.
        self.exit_after = exit_after
        self.stall_after = stall_after

    def chat(self, params: ChatParams) -> Iterator[Piece | Usage]:
        prompt_tokens = sum(len(words(m["content"])) + 2 for m in params.messages)
        user = [m["content"] for m in params.messages if m["role"] == "user"]
        answer = words(user[-1] if user else "") or ["…"]
        sent = 0
        for index in range(params.n):
            text = ""
            reason = "length"
            for count in range(params.max_tokens):
                if sent == self.exit_after:
                    os._exit(3)
                if sent == self.stall_after:
                    time.sleep(3600)
                token = ("" if count == 0 else " ") + answer[count % len(answer)]
                kept, stopped = cut_at_stop(text + token, params.stop)
                if stopped:
                    if kept[len(text) :]:
                        yield Piece(index, kept[len(text) :])
                        sent += 1
                    reason = "stop"
                    break
                text += token
                yield Piece(index, token)
                sent += 1
                if count + 1 == len(answer):
                    reason = "stop"
                    break
            yield Piece(index, "", finish_reason=reason)
        yield Usage(prompt_tokens=prompt_tokens, completion_tokens=sent)

    def score(self, *, prompt: str, responses: list[str]) -> Scores:
        # Longer answers that share more words with the prompt score higher.
        asked = set(words(prompt.lower()))
        scores = [len(asked & set(words(r.lower()))) + len(words(r)) / 100 for r in responses]
        return Scores(scores=scores, prompt_tokens=len(words(prompt)) * len(responses))
