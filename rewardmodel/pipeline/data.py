"""Read preference pairs and prompts from JSONL; format prompts the way the policy sees them."""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

from datasets import Dataset
from transformers import PreTrainedTokenizerBase

logger = logging.getLogger(__name__)


class PipelineError(Exception):
    """A mistake in the user's input (missing file, bad model path): the CLI prints one line."""


def read_jsonl(path: str | Path) -> list[dict[str, Any]]:
    path = Path(path)
    if not path.is_file():
        raise PipelineError(f"{path} does not exist or is not a file")
    rows = []
    with path.open(encoding="utf-8") as lines:
        for number, line in enumerate(lines, start=1):
            if not line.strip():
                continue
            try:
                rows.append(json.loads(line))
            except json.JSONDecodeError as error:
                raise PipelineError(f"{path}:{number}: not valid JSON ({error.msg})") from None
    return rows


def format_prompt(tokenizer: PreTrainedTokenizerBase, prompt: str) -> str:
    """The prompt as the policy reads it; the reward model scores this text + answer."""
    if tokenizer.chat_template is None:
        return prompt
    return tokenizer.apply_chat_template(
        [{"role": "user", "content": prompt}], tokenize=False, add_generation_prompt=True
    )


def load_preferences(path: str | Path, tokenizer: PreTrainedTokenizerBase) -> Dataset:
    """One JSONL file of {prompt, chosen, rejected[, margin]} as a TRL preference dataset."""
    rows = read_jsonl(path)
    if not rows:
        raise PipelineError(f"{path} holds no preference pairs")
    for number, row in enumerate(rows, start=1):
        missing = {"prompt", "chosen", "rejected"} - row.keys()
        if missing:
            raise PipelineError(f"{path}:{number}: missing {', '.join(sorted(missing))}")
    columns = {
        "prompt": [format_prompt(tokenizer, row["prompt"]) for row in rows],
        "chosen": [row["chosen"] for row in rows],
        "rejected": [row["rejected"] for row in rows],
    }
    # The margin column is all-or-nothing: TRL's collator reads it only when the first row has it.
    if all("margin" in row for row in rows):
        columns["margin"] = [float(row["margin"]) for row in rows]
    return Dataset.from_dict(columns)


def drop_overlong_pairs(
    dataset: Dataset, tokenizer: PreTrainedTokenizerBase, max_length: int
) -> tuple[Dataset, int]:
    """Drop pairs over max_length here, loudly: RewardTrainer would drop them silently."""
    eos = tokenizer.eos_token or ""

    def length(texts: list[str]) -> list[int]:
        return [len(ids) for ids in tokenizer(texts)["input_ids"]]

    chosen = length(
        [p + c + eos for p, c in zip(dataset["prompt"], dataset["chosen"], strict=True)]
    )
    rejected = length(
        [p + r + eos for p, r in zip(dataset["prompt"], dataset["rejected"], strict=True)]
    )
    keep = [
        i for i, (c, r) in enumerate(zip(chosen, rejected, strict=True)) if max(c, r) <= max_length
    ]
    dropped = len(dataset) - len(keep)
    if dropped:
        logger.warning(
            "dropped %d of %d pairs longer than %d tokens; raise --max-length to keep them",
            dropped,
            len(dataset),
            max_length,
        )
    return dataset.select(keep), dropped


def load_prompts(path: str | Path) -> list[str]:
    """Prompts from JSONL rows with a `prompt` field, as batch items ({prompt, responses}) have."""
    rows = read_jsonl(path)
    prompts = [
        row["prompt"] for row in rows if isinstance(row.get("prompt"), str) and row["prompt"]
    ]
    if not prompts:
        raise PipelineError(f"{path} holds no rows with a `prompt` field")
    return prompts
