"""Tune a policy against a reward model (PPO, GRPO or RLOO); sample answers for the next batch."""

from __future__ import annotations

import json
import os
import random
import statistics
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import torch
from datasets import Dataset
from transformers import (
    AutoModelForCausalLM,
    AutoModelForSequenceClassification,
    DataCollatorWithPadding,
    PreTrainedModel,
    PreTrainedTokenizerBase,
    Trainer,
)

from .data import PipelineError, format_prompt, load_prompts
from .plots import first_logged, plot_panels
from .reward import Progress, ProgressCallback, device, load_reward_model, load_tokenizer, score


@dataclass
class PolicyArgs:
    policy: str = field(metadata={"help": "Policy model name or local path (a causal LM)."})
    reward_model: str = field(metadata={"help": "Reward model folder from train-rm."})
    prompts: str = field(metadata={"help": "JSONL file with a `prompt` field per row."})
    out: str = field(metadata={"help": "Folder that receives the tuned policy and metrics.json."})
    algo: str = field(
        default="ppo", metadata={"help": "RL algorithm.", "choices": ["ppo", "grpo", "rloo"]}
    )
    steps: int = field(default=20, metadata={"help": "Optimizer steps."})
    batch_size: int = field(default=8, metadata={"help": "Answers generated per step."})
    num_generations: int = field(default=4, metadata={"help": "GRPO/RLOO: answers per prompt."})
    max_new_tokens: int = field(default=48, metadata={"help": "Longest generated answer."})
    lr: float = field(default=1e-6, metadata={"help": "Learning rate."})
    kl_coef: float = field(
        default=0.05, metadata={"help": "Weight of the KL penalty to the start policy."}
    )
    eval_prompts: int = field(
        default=16, metadata={"help": "Prompts held out to score before/after."}
    )
    seed: int = field(default=42, metadata={"help": "Seed for the split, sampling and init."})


@dataclass
class SampleArgs:
    policy: str = field(metadata={"help": "Policy model name or local path."})
    prompts: str = field(metadata={"help": "JSONL file with a `prompt` field per row."})
    out: str = field(metadata={"help": "Batch JSONL file to write."})
    n: int = field(
        default=2, metadata={"help": "Answers per prompt (2 for pairwise, up to 9 to rank)."}
    )
    max_new_tokens: int = field(default=128, metadata={"help": "Longest generated answer."})
    temperature: float = field(default=0.8, metadata={"help": "Sampling temperature; 0 is greedy."})
    seed: int = field(default=0, metadata={"help": "Sampling seed."})


def load_policy(name: str) -> PreTrainedModel:
    return AutoModelForCausalLM.from_pretrained(name).to(device())


@torch.inference_mode()
def generate(
    model: PreTrainedModel,
    tokenizer: PreTrainedTokenizerBase,
    prompts: list[str],
    max_new_tokens: int,
    n: int = 1,
    temperature: float = 0.0,
    batch_size: int = 8,
) -> list[list[str]]:
    """n answers per prompt; temperature 0 is greedy, so before/after scores are comparable."""
    tokenizer.padding_side = "left"  # decoder-only models continue from the right edge
    sampling = (
        {"do_sample": True, "temperature": temperature} if temperature > 0 else {"do_sample": False}
    )
    answers: list[list[str]] = []
    for start in range(0, len(prompts), batch_size):
        batch = [format_prompt(tokenizer, p) for p in prompts[start : start + batch_size]]
        inputs = tokenizer(batch, return_tensors="pt", padding=True).to(model.device)
        output = model.generate(
            **inputs,
            max_new_tokens=max_new_tokens,
            num_return_sequences=n,
            pad_token_id=tokenizer.pad_token_id,
            eos_token_id=tokenizer.eos_token_id,
            **sampling,
        )
        texts = tokenizer.batch_decode(
            output[:, inputs["input_ids"].shape[1] :], skip_special_tokens=True
        )
        answers += [[t.strip() for t in texts[i : i + n]] for i in range(0, len(texts), n)]
    return answers


def mean_reward(
    policy: PreTrainedModel,
    tokenizer: PreTrainedTokenizerBase,
    reward_model: PreTrainedModel,
    reward_tokenizer: PreTrainedTokenizerBase,
    prompts: list[str],
    max_new_tokens: int,
) -> float:
    answers = [a[0] for a in generate(policy, tokenizer, prompts, max_new_tokens)]
    return statistics.fmean(score(reward_model, reward_tokenizer, prompts, answers))


def split_prompts(prompts: list[str], held_out: int, seed: int) -> tuple[list[str], list[str]]:
    shuffled = prompts[:]
    random.Random(seed).shuffle(shuffled)
    held_out = max(1, min(held_out, len(shuffled) // 2))
    return shuffled[held_out:] or shuffled, shuffled[:held_out]


def common_settings(args: PolicyArgs) -> dict[str, Any]:
    return {
        "output_dir": args.out,
        "learning_rate": args.lr,
        "per_device_train_batch_size": args.batch_size,
        "seed": args.seed,
        "logging_steps": 1,
        "save_strategy": "no",
        "report_to": "none",
        # TRL turns both on by default; on CPU they only cost time.
        "bf16": torch.cuda.is_available(),
        "gradient_checkpointing": False,
        "dataloader_pin_memory": torch.cuda.is_available(),
    }


def ppo_trainer(
    args: PolicyArgs,
    policy: PreTrainedModel,
    tokenizer: PreTrainedTokenizerBase,
    reward_model: PreTrainedModel,
    prompts: list[str],
    callbacks: list[Any],
) -> Trainer:
    # PPO lives in trl.experimental in the pinned trl 1.12 (removed later); using it is deliberate.
    os.environ.setdefault("TRL_EXPERIMENTAL_SILENCE", "1")
    from trl.experimental.ppo import PPOConfig, PPOTrainer

    # PPO reads pre-tokenized prompts, left-padded by the collator.
    ids = [tokenizer(format_prompt(tokenizer, p))["input_ids"] for p in prompts]
    while len(ids) < args.batch_size:  # the rollout loader drops incomplete batches
        ids += ids
    dataset = Dataset.from_dict({"input_ids": ids})
    config = PPOConfig(
        **common_settings(args),
        total_episodes=args.steps * args.batch_size,
        local_rollout_forward_batch_size=args.batch_size,
        response_length=args.max_new_tokens,
        stop_token="eos",
        kl_coef=args.kl_coef,
        num_sample_generations=0,  # we score held-out prompts ourselves, before and after
    )
    return PPOTrainer(
        args=config,
        processing_class=tokenizer,
        model=policy,
        ref_model=load_policy(args.policy),
        reward_model=reward_model,
        # The value head starts from the reward model, which already reads answers the right way.
        value_model=AutoModelForSequenceClassification.from_pretrained(
            args.reward_model, num_labels=1
        ),
        train_dataset=dataset,
        eval_dataset=dataset,
        data_collator=DataCollatorWithPadding(tokenizer),
        callbacks=callbacks,
    )


def group_trainer(
    args: PolicyArgs,
    policy: PreTrainedModel,
    tokenizer: PreTrainedTokenizerBase,
    reward_model: PreTrainedModel,
    reward_tokenizer: PreTrainedTokenizerBase,
    prompts: list[str],
    callbacks: list[Any],
) -> Trainer:
    """GRPO and RLOO: several answers per prompt, each judged against its own group."""
    from trl import GRPOConfig, GRPOTrainer, RLOOConfig, RLOOTrainer

    if args.num_generations < 2 or args.batch_size % args.num_generations:
        raise PipelineError(
            "--batch-size must be a multiple of --num-generations, which must be at least 2"
        )
    config_class, trainer_class = {
        "grpo": (GRPOConfig, GRPOTrainer),
        "rloo": (RLOOConfig, RLOOTrainer),
    }[args.algo]
    config = config_class(
        **common_settings(args),
        max_steps=args.steps,
        num_generations=args.num_generations,
        max_completion_length=args.max_new_tokens,
        beta=args.kl_coef,
    )
    return trainer_class(
        # The reference policy is reloaded from this model's path (config.name_or_path).
        model=policy,
        reward_funcs=reward_model,
        args=config,
        train_dataset=Dataset.from_dict({"prompt": [format_prompt(tokenizer, p) for p in prompts]}),
        processing_class=tokenizer,
        reward_processing_classes=reward_tokenizer,
        callbacks=callbacks,
    )


def last_logged(log_history: list[dict[str, Any]], key: str) -> float | None:
    values = [row[key] for row in log_history if key in row]
    return values[-1] if values else None


def train_policy(args: PolicyArgs, progress: Progress | None = None) -> dict[str, Any]:
    torch.manual_seed(args.seed)
    prompts = load_prompts(args.prompts)
    tokenizer = load_tokenizer(args.policy, padding_side="left")
    reward_model, reward_tokenizer = load_reward_model(args.reward_model)
    if tokenizer.get_vocab() != reward_tokenizer.get_vocab():
        raise PipelineError("the policy and the reward model must share one tokenizer")
    train_prompts, eval_prompts = split_prompts(prompts, args.eval_prompts, args.seed)

    policy = load_policy(args.policy)
    judge = (reward_model, reward_tokenizer, eval_prompts, args.max_new_tokens)
    before = mean_reward(policy, tokenizer, *judge)

    callbacks = [ProgressCallback(progress)] if progress else []
    if args.algo == "ppo":
        trainer = ppo_trainer(args, policy, tokenizer, reward_model, train_prompts, callbacks)
    else:
        trainer = group_trainer(
            args, policy, tokenizer, reward_model, reward_tokenizer, train_prompts, callbacks
        )
    trainer.train()

    out = Path(args.out)
    trainer.save_model(str(out))
    tokenizer.save_pretrained(out)
    after = mean_reward(load_policy(str(out)), tokenizer, *judge)

    history = trainer.state.log_history
    metrics = {
        "algo": args.algo,
        "reward_before": before,
        "reward_after": after,
        "reward_gain": after - before,
        # PPO logs the summed per-answer KL, GRPO/RLOO the per-token mean.
        "kl": last_logged(history, "objective/kl" if args.algo == "ppo" else "kl"),
        "steps": trainer.state.global_step,
        "train_prompts": len(train_prompts),
        "eval_prompts": len(eval_prompts),
        "device": str(device()),
        "args": asdict(args),
    }
    (out / "metrics.json").write_text(json.dumps(metrics, indent=2))
    (out / "log_history.json").write_text(json.dumps(history, indent=2))
    plot_panels(
        [
            ("reward", [first_logged(history, REWARD_KEYS, args.algo)], None),
            ("KL to the reference", [first_logged(history, KL_KEYS, args.algo)], None),
        ],
        out / "curves.png",
    )
    return metrics


# What the trainers log: PPO under objective/…, GRPO and RLOO without a prefix.
REWARD_KEYS = ["objective/scores", "objective/rlhf_reward", "reward"]
KL_KEYS = ["objective/kl", "kl"]


def sample_answers(args: SampleArgs) -> dict[str, Any]:
    """Answers in the batch-items format, so they can be posted as the next batch."""
    if not 1 <= args.n <= 26:
        raise PipelineError("--n must be between 1 and 26")
    prompts = load_prompts(args.prompts)
    tokenizer = load_tokenizer(args.policy, padding_side="left")
    torch.manual_seed(args.seed)
    answers = generate(
        load_policy(args.policy), tokenizer, prompts, args.max_new_tokens, args.n, args.temperature
    )
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    with out.open("w", encoding="utf-8") as lines:
        for prompt, texts in zip(prompts, answers, strict=True):
            responses = [{"id": chr(ord("a") + i), "text": text} for i, text in enumerate(texts)]
            lines.write(json.dumps({"prompt": prompt, "responses": responses}) + "\n")
    return {"out": str(out), "items": len(prompts), "responses_per_item": args.n}
