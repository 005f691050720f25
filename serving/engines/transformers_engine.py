"""In-process transformers inference on CPU or CUDA: a policy generates token by token, a
reward model scores (prompt, response) pairs. One generation at a time per process."""

import queue
import threading
from collections.abc import Iterator
from typing import Any

from .base import ChatParams, Engine, EngineError, Piece, Scores, Usage, cut_at_stop


class _TokenQueue:
    """A transformers streamer that hands each generated token id to the reading thread."""

    def __init__(self, prompt_length: int) -> None:
        self.tokens: queue.Queue[int | None] = queue.Queue()
        self.skip_prompt = True
        self.prompt_length = prompt_length

    def put(self, value: Any) -> None:
        if self.skip_prompt:  # the first call carries the prompt
            self.skip_prompt = False
            return
        for token in value.reshape(-1).tolist():
            self.tokens.put(int(token))

    def end(self) -> None:
        self.tokens.put(None)


class TransformersEngine(Engine):
    def __init__(self, folder: str, *, kind: str = "policy") -> None:
        import torch
        from transformers import (
            AutoModelForCausalLM,
            AutoModelForSequenceClassification,
            AutoTokenizer,
        )

        self.torch = torch
        self.tokenizer = AutoTokenizer.from_pretrained(folder)
        loader = AutoModelForCausalLM if kind == "policy" else AutoModelForSequenceClassification
        self.model = loader.from_pretrained(folder)
        self.model.eval()
        self.lock = threading.Lock()

    def _prompt_ids(self, messages: list[dict[str, str]]) -> Any:
        if self.tokenizer.chat_template:
            return self.tokenizer.apply_chat_template(
                messages, add_generation_prompt=True, return_tensors="pt", return_dict=True
            )["input_ids"]
        text = "\n".join(m["content"] for m in messages)
        return self.tokenizer(text, return_tensors="pt")["input_ids"]

    def chat(self, params: ChatParams) -> Iterator[Piece | Usage]:
        prompt = self._prompt_ids(params.messages)
        completion_tokens = 0
        with self.lock:
            for index in range(params.n):
                streamer = _TokenQueue(prompt.shape[1])
                failure: list[BaseException] = []
                sampling = params.temperature > 0
                kwargs = {
                    "input_ids": prompt,
                    "attention_mask": self.torch.ones_like(prompt),
                    "max_new_tokens": params.max_tokens,
                    "do_sample": sampling,
                    "streamer": streamer,
                    "pad_token_id": self.tokenizer.pad_token_id or self.tokenizer.eos_token_id,
                }
                if sampling:
                    kwargs |= {"temperature": params.temperature, "top_p": params.top_p}

                def generate(kwargs: dict[str, Any] = kwargs, failure: list = failure) -> None:
                    try:
                        with self.torch.no_grad():
                            self.model.generate(**kwargs)
                    except BaseException as exc:  # reported to the reader below
                        failure.append(exc)
                        kwargs["streamer"].end()

                # Set when the reader has what it needs (a stop string, a gone client), so
                # generation does not run on to max_tokens for nobody.
                done = threading.Event()
                kwargs["stopping_criteria"] = [lambda *args, done=done, **kw: done.is_set()]
                worker = threading.Thread(target=generate, daemon=True)
                worker.start()
                ids: list[int] = []
                text, reason = "", "length"
                try:
                    while (token := streamer.tokens.get(timeout=600)) is not None:
                        if token == self.tokenizer.eos_token_id:
                            reason = "stop"
                            break
                        ids.append(token)
                        completion_tokens += 1
                        full = self.tokenizer.decode(ids, skip_special_tokens=True)
                        kept, stopped = cut_at_stop(full, params.stop)
                        # A character split over tokens decodes as U+FFFD: wait for the rest.
                        if kept[len(text) :] and (stopped or not kept.endswith("\ufffd")):
                            yield Piece(index, kept[len(text) :])
                            text = kept
                        if stopped:
                            reason = "stop"
                            break
                finally:
                    done.set()
                    worker.join(timeout=600)
                if failure:
                    raise EngineError(f"generation failed: {failure[0]}")
                yield Piece(index, "", finish_reason=reason)
        yield Usage(prompt_tokens=int(prompt.shape[1]), completion_tokens=completion_tokens)

    def score(self, *, prompt: str, responses: list[str]) -> Scores:
        scores, prompt_tokens = [], 0
        with self.lock, self.torch.no_grad():
            for response in responses:
                messages = [
                    {"role": "user", "content": prompt},
                    {"role": "assistant", "content": response},
                ]
                if self.tokenizer.chat_template:
                    ids = self.tokenizer.apply_chat_template(
                        messages, return_tensors="pt", return_dict=True
                    )["input_ids"]
                else:
                    ids = self.tokenizer(prompt + "\n" + response, return_tensors="pt")["input_ids"]
                prompt_tokens += int(ids.shape[1])
                logits = self.model(input_ids=ids, attention_mask=self.torch.ones_like(ids)).logits
                scores.append(float(logits[0, 0]))
        return Scores(scores=scores, prompt_tokens=prompt_tokens)
