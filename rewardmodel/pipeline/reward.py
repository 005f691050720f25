"""Train a reward model on preference pairs with TRL's RewardTrainer; measure how it ranks pairs."""

from __future__ import annotations

import json
import statistics
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import torch
from transformers import (
    AutoConfig,
    AutoModelForSequenceClassification,
    AutoTokenizer,
    PreTrainedModel,
    PreTrainedTokenizerBase,
    TrainerCallback,
)
from transformers.trainer_pt_utils import LengthGroupedSampler
from trl import RewardConfig, RewardTrainer

from .data import PipelineError, drop_overlong_pairs, format_prompt, load_preferences, read_jsonl
from .plots import plot_panels, series

Progress = Callable[[float, str], None]


@dataclass
class RewardArgs:
    data: str = field(
        metadata={"help": "Folder with train.jsonl and eval.jsonl (prompt, chosen, rejected)."}
    )
    model: str = field(metadata={"help": "Base model name or local path."})
    out: str = field(metadata={"help": "Folder that receives the reward model and metrics.json."})
    epochs: float = field(default=1.0, metadata={"help": "Passes over the training pairs."})
    lr: float = field(default=1e-4, metadata={"help": "Peak learning rate."})
    batch_size: int = field(default=8, metadata={"help": "Pairs per optimizer step."})
    max_length: int = field(default=1024, metadata={"help": "Longest prompt+answer in tokens."})
    lora: bool = field(default=False, metadata={"help": "Train LoRA adapters, merged on save."})
    gradient_checkpointing: bool = field(
        default=False, metadata={"help": "Trade speed for memory on large models."}
    )
    seed: int = field(default=42, metadata={"help": "Seed for init, shuffling and dropout."})


@dataclass
class EvalRewardArgs:
    model: str = field(metadata={"help": "Trained reward model folder."})
    data: str = field(metadata={"help": "JSONL file of prompt, chosen, rejected."})
    batch_size: int = field(default=16, metadata={"help": "Texts per forward pass."})


class LengthGroupedRewardTrainer(RewardTrainer):
    """Batches pairs of similar length together, so less compute is spent on padding."""

    def _get_train_sampler(self, train_dataset=None):
        dataset = train_dataset if train_dataset is not None else self.train_dataset
        lengths = [
            max(len(c), len(r))
            for c, r in zip(dataset["chosen_ids"], dataset["rejected_ids"], strict=True)
        ]
        batch = self.args.train_batch_size * self.args.gradient_accumulation_steps
        return LengthGroupedSampler(batch, lengths=lengths)


class ProgressCallback(TrainerCallback):
    """Forwards trainer progress to a plain callable(fraction, message), e.g. a job's status row."""

    def __init__(self, progress: Progress) -> None:
        self.progress = progress

    def on_step_end(self, args, state, control, **kwargs):
        if state.max_steps:
            self.progress(
                state.global_step / state.max_steps, f"step {state.global_step}/{state.max_steps}"
            )


def check_model(name: str) -> None:
    """Fail early and readably on a model path or name that cannot be loaded."""
    # Anything that is not `org/name` is meant as a folder; don't send it to the hub.
    looks_local = name.startswith((".", "/", "~")) or name.count("/") > 1
    if looks_local and not Path(name).expanduser().is_dir():
        raise PipelineError(f"model folder {name} does not exist")
    try:
        AutoConfig.from_pretrained(name)
    except (OSError, ValueError) as error:
        raise PipelineError(f"cannot load model {name!r}: {error}") from None


def load_tokenizer(name: str, padding_side: str = "right") -> PreTrainedTokenizerBase:
    check_model(name)
    tokenizer = AutoTokenizer.from_pretrained(name, padding_side=padding_side)
    if tokenizer.pad_token in (None, tokenizer.eos_token):
        # PPO treats every pad id as padding, so with pad == EOS the turn ends inside chat
        # prompts would be masked out; an unused special token (SmolLM2's unk) is safer.
        spare = tokenizer.unk_token
        if spare in (None, tokenizer.eos_token):
            spare = tokenizer.eos_token
        tokenizer.pad_token = spare
    return tokenizer


def device() -> torch.device:
    return torch.device("cuda" if torch.cuda.is_available() else "cpu")


def reward_config(args: RewardArgs, train_pairs: int) -> RewardConfig:
    steps = max(1, int(args.epochs * train_pairs / args.batch_size))
    return RewardConfig(
        output_dir=args.out,
        num_train_epochs=args.epochs,
        learning_rate=args.lr,
        per_device_train_batch_size=args.batch_size,
        per_device_eval_batch_size=args.batch_size * 2,
        max_length=args.max_length,
        seed=args.seed,
        # TRL turns both on by default; on CPU bf16 autocast and recomputation only cost time.
        bf16=torch.cuda.is_available(),
        gradient_checkpointing=args.gradient_checkpointing,
        eval_strategy="steps",
        # About 20 points on the train curve and 5 on the eval curve, whatever the run length.
        eval_steps=max(1, steps // 5),
        logging_steps=max(1, steps // 20),
        save_strategy="no",
        report_to="none",
        dataloader_pin_memory=torch.cuda.is_available(),
    )


def lora_config() -> Any:
    from peft import LoraConfig

    # SEQ_CLS keeps the new score head fully trainable next to the adapters.
    return LoraConfig(
        task_type="SEQ_CLS", r=16, lora_alpha=32, lora_dropout=0.0, target_modules="all-linear"
    )


def train_reward_model(args: RewardArgs, progress: Progress | None = None) -> dict[str, Any]:
    data = Path(args.data)
    for name in ("train.jsonl", "eval.jsonl"):
        if not (data / name).is_file():
            raise PipelineError(
                f"{data / name} not found: --data must be a folder with train.jsonl and eval.jsonl"
            )
    tokenizer = load_tokenizer(args.model)
    train, train_dropped = drop_overlong_pairs(
        load_preferences(data / "train.jsonl", tokenizer), tokenizer, args.max_length
    )
    evaluation, eval_dropped = drop_overlong_pairs(
        load_preferences(data / "eval.jsonl", tokenizer), tokenizer, args.max_length
    )
    if len(train) == 0 or len(evaluation) == 0:
        raise PipelineError(f"no pairs left under --max-length {args.max_length}")

    trainer = LengthGroupedRewardTrainer(
        model=args.model,
        args=reward_config(args, len(train)),
        train_dataset=train,
        eval_dataset=evaluation,
        processing_class=tokenizer,
        peft_config=lora_config() if args.lora else None,
        callbacks=[ProgressCallback(progress)] if progress else None,
    )
    result = trainer.train()
    final = trainer.evaluate()

    out = Path(args.out)
    model = trainer.model.merge_and_unload() if args.lora else trainer.model
    model.save_pretrained(out)
    tokenizer.save_pretrained(out)
    metrics = {
        "eval_accuracy": final["eval_accuracy"],
        "eval_loss": final["eval_loss"],
        "eval_margin": final.get("eval_margin"),
        "train_loss": result.metrics.get("train_loss"),
        "train_runtime": result.metrics["train_runtime"],
        "train_samples_per_second": result.metrics["train_samples_per_second"],
        "train_samples": len(train),
        "eval_samples": len(evaluation),
        "dropped_pairs": train_dropped + eval_dropped,
        "device": str(device()),
        "args": asdict(args),
    }
    (out / "metrics.json").write_text(json.dumps(metrics, indent=2))
    plot_curves(trainer.state.log_history, out / "curves.png")
    if progress:
        progress(1.0, f"eval accuracy {metrics['eval_accuracy']:.3f}")
    return metrics


def plot_curves(log_history: list[dict[str, Any]], path: Path) -> None:
    """Loss and pairwise accuracy, train and eval, over steps."""
    plot_panels(
        [
            (
                "loss",
                [series(log_history, "loss", "train"), series(log_history, "eval_loss", "eval")],
                None,
            ),
            (
                "pairwise accuracy",
                [
                    series(log_history, "accuracy", "train"),
                    series(log_history, "eval_accuracy", "eval"),
                ],
                (0, 1),
            ),
        ],
        path,
    )


def load_reward_model(name: str) -> tuple[PreTrainedModel, PreTrainedTokenizerBase]:
    tokenizer = load_tokenizer(name)
    model = (
        AutoModelForSequenceClassification.from_pretrained(name, num_labels=1).to(device()).eval()
    )
    model.config.pad_token_id = tokenizer.pad_token_id
    return model, tokenizer


@torch.inference_mode()
def score(
    model: PreTrainedModel,
    tokenizer: PreTrainedTokenizerBase,
    prompts: list[str],
    answers: list[str],
    batch_size: int = 16,
) -> list[float]:
    """Reward of each (raw prompt, answer), formatted as in training: chat prompt + answer + EOS."""
    eos = tokenizer.eos_token or ""
    texts = [format_prompt(tokenizer, p) + a + eos for p, a in zip(prompts, answers, strict=True)]
    scores: list[float] = []
    for start in range(0, len(texts), batch_size):
        batch = tokenizer(texts[start : start + batch_size], return_tensors="pt", padding=True)
        scores += model(**batch.to(model.device)).logits[:, 0].float().tolist()
    return scores


def evaluate_reward_model(args: EvalRewardArgs) -> dict[str, Any]:
    rows = read_jsonl(args.data)
    if not rows:
        raise PipelineError(f"{args.data} holds no preference pairs")
    model, tokenizer = load_reward_model(args.model)
    prompts = [row["prompt"] for row in rows]
    chosen = score(model, tokenizer, prompts, [row["chosen"] for row in rows], args.batch_size)
    rejected = score(model, tokenizer, prompts, [row["rejected"] for row in rows], args.batch_size)
    margins = [c - r for c, r in zip(chosen, rejected, strict=True)]
    return {
        "pairs": len(margins),
        "accuracy": sum(m > 0 for m in margins) / len(margins),
        "margin_mean": statistics.fmean(margins),
        "margin_median": statistics.median(margins),
        "margin_std": statistics.pstdev(margins),
        "chosen_mean": statistics.fmean(chosen),
        "rejected_mean": statistics.fmean(rejected),
    }
