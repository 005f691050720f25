"""Approved, aggregated preferences of batches → TRL `prompt/chosen/rejected` files, split by item.

The split hashes each item's prompt text with a fixed salt, so the same batches always give the
same split, an item's pairs (a ranking of n answers gives n·(n-1)/2) all land on one side, and
so does a prompt asked again in another batch: eval prompts are never seen in training.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from django.utils import timezone

from labeling import selectors
from labeling.models import Batch

if TYPE_CHECKING:
    from datasets import DatasetDict

SPLIT_SALT = "rlhf-marketplace-split-v1"  # changing it reshuffles every future split
DEFAULT_EVAL_FRACTION = 0.1
AGGREGATION = "dawid_skene"
DEFAULT_LICENSE = "CC-BY-4.0"


@dataclass
class BatchSummary:
    id: int
    name: str
    task_type: str
    items: int  # items that gave at least one pair
    pairs: int
    agreement: float | None


@dataclass
class PreferenceExport:
    train: list[dict[str, Any]]
    eval: list[dict[str, Any]]
    batches: list[BatchSummary]
    eval_fraction: float
    margin: bool
    created_at: Any = field(default_factory=timezone.now)

    @property
    def items(self) -> tuple[int, int]:
        """Items on each side (train, eval)."""
        return (len({r["_key"] for r in self.train}), len({r["_key"] for r in self.eval}))


def eval_score(prompt: str) -> float:
    """A stable number in [0, 1) per prompt; prompts under the eval fraction go to eval."""
    digest = hashlib.sha256(f"{SPLIT_SALT}:{prompt}".encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2**64


def split_by_item(
    rows: list[dict[str, Any]], eval_fraction: float
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Splits by prompt (hence by item). With two or more prompts, neither side is empty:
    the lowest-scoring prompt goes to eval, the highest to train, whatever the fraction says."""
    scores = {row["prompt"]: eval_score(row["prompt"]) for row in rows}
    to_eval = {key for key, score in scores.items() if score < eval_fraction}
    if len(scores) >= 2 and eval_fraction > 0:
        ranked = sorted(scores, key=scores.__getitem__)
        if not to_eval:
            to_eval = {ranked[0]}
        if to_eval == set(ranked):
            to_eval.discard(ranked[-1])
    train = [row for row in rows if row["prompt"] not in to_eval]
    evaluation = [row for row in rows if row["prompt"] in to_eval]
    return train, evaluation


def collect_preferences(
    *,
    batches: Iterable[Batch],
    eval_fraction: float = DEFAULT_EVAL_FRACTION,
    margin: bool = True,
) -> PreferenceExport:
    if not 0 <= eval_fraction < 1:
        raise ValueError("eval fraction must be at least 0 and below 1")
    rows: list[dict[str, Any]] = []
    summaries = []
    for batch in sorted(batches, key=lambda b: b.id):
        pairs = list(
            selectors.export_trl(batch=batch, method=AGGREGATION, details=True, with_item=True)
        )
        for pair in pairs:
            row = {"prompt": pair["prompt"], "chosen": pair["chosen"], "rejected": pair["rejected"]}
            if margin:
                row["margin"] = pair["margin"]
            row["_key"] = (batch.id, pair["item_id"])
            row["_confidence"] = pair["confidence"]
            rows.append(row)
        summaries.append(
            BatchSummary(
                id=batch.id,
                name=batch.name,
                task_type=batch.task_type,
                items=len({pair["item_id"] for pair in pairs}),
                pairs=len(pairs),
                agreement=selectors.batch_agreement(batch=batch),
            )
        )
    train, evaluation = split_by_item(rows, eval_fraction)
    return PreferenceExport(
        train=train,
        eval=evaluation,
        batches=summaries,
        eval_fraction=eval_fraction,
        margin=margin,
    )


def public(row: dict[str, Any]) -> dict[str, Any]:
    return {key: value for key, value in row.items() if not key.startswith("_")}


def write_jsonl(path: Path, rows: list[dict[str, Any]]) -> None:
    with path.open("w", encoding="utf-8") as lines:
        for row in rows:
            lines.write(json.dumps(public(row), ensure_ascii=False) + "\n")


CONFIDENCE_LEVELS = (0.5, 0.7, 0.8, 0.9, 0.95, 0.99)


def confidence_shares(export: PreferenceExport) -> list[str]:
    """Per level of CONFIDENCE_LEVELS, the share of exported pairs at or above it."""
    scores = [row["_confidence"] for row in export.train + export.eval]
    if not scores:
        return ["n/a"] * len(CONFIDENCE_LEVELS)
    return [
        f"{sum(score >= level for score in scores) / len(scores):.1%}"
        for level in CONFIDENCE_LEVELS
    ]


def dataset_card(export: PreferenceExport, license: str = DEFAULT_LICENSE) -> str:
    columns = "`prompt`, `chosen`, `rejected`" + (", `margin`" if export.margin else "")
    train_items, eval_items = export.items
    lines = [
        "---",
        f"license: {license}",
        "task_categories:",
        "- text-classification",
        "tags:",
        "- rlhf",
        "- preference",
        "- reward-modeling",
        "configs:",
        "- config_name: default",
        "  data_files:",
        "  - split: train",
        "    path: train.jsonl",
        "  - split: eval",
        "    path: eval.jsonl",
        "---",
        "",
        "# Human preference pairs",
        "",
        f"- Created: {export.created_at:%Y-%m-%d %H:%M} UTC",
        f"- License: {license}",
        f"- Columns: {columns} (TRL's reward-modeling format)",
        f"- Train: {len(export.train)} pairs from {train_items} items",
        f"- Eval: {len(export.eval)} pairs from {eval_items} items",
        "",
        "## Confidence",
        "",
        "Each pair's confidence is the Dawid-Skene posterior that `chosen` is the better "
        "answer. Share of pairs at or above each level:",
        "",
        "| Confidence | " + " | ".join(f"≥ {level:g}" for level in CONFIDENCE_LEVELS) + " |",
        "|---|" + "---|" * len(CONFIDENCE_LEVELS),
        "| Pairs | " + " | ".join(confidence_shares(export)) + " |",
        "",
        "## Source batches",
        "",
        "| Batch | Name | Task | Items | Pairs | Agreement (Krippendorff's alpha) |",
        "|---|---|---|---|---|---|",
    ]
    for batch in export.batches:
        agreement = "n/a" if batch.agreement is None else f"{batch.agreement:.3f}"
        name = batch.name.replace("|", "\\|")
        lines.append(
            f"| {batch.id} | {name} | {batch.task_type} | {batch.items} | {batch.pairs} "
            f"| {agreement} |"
        )
    lines += [
        "",
        "## How it was made",
        "",
        "Workers' approved ratings of each item were aggregated per response pair with "
        "Dawid-Skene (each worker weighted by estimated accuracy, anchored on gold answers); "
        "gold items and unapproved ratings are left out. A ranking of n answers gives "
        "n·(n-1)/2 pairs."
        + (
            " `margin` is the vote margin for the chosen answer (0 = split vote, 1 = unanimous)."
            if export.margin
            else ""
        ),
        "",
        "## Split",
        "",
        f"By prompt: an item goes to eval when sha256(salt, prompt) falls under "
        f"{export.eval_fraction:g}, so one item's pairs, and a prompt repeated across batches, "
        "are never on both sides, and the same batches always give the same split. With two "
        "or more prompts neither side is empty.",
        "",
    ]
    return "\n".join(lines)


def export_preferences(
    *,
    batches: Iterable[Batch],
    out: str | Path,
    eval_fraction: float = DEFAULT_EVAL_FRACTION,
    margin: bool = True,
    license: str = DEFAULT_LICENSE,
) -> PreferenceExport:
    """Writes train.jsonl, eval.jsonl and a dataset card README.md into `out`."""
    export = collect_preferences(batches=batches, eval_fraction=eval_fraction, margin=margin)
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    write_jsonl(out / "train.jsonl", export.train)
    write_jsonl(out / "eval.jsonl", export.eval)
    (out / "README.md").write_text(dataset_card(export, license), encoding="utf-8")
    return export


def preference_dataset(
    *,
    batches: Iterable[Batch],
    eval_fraction: float = DEFAULT_EVAL_FRACTION,
    margin: bool = True,
) -> DatasetDict:
    """The same split as a `datasets.DatasetDict` with `train` and `eval`."""
    from datasets import Dataset, DatasetDict  # heavy; only the training side needs it

    export = collect_preferences(batches=batches, eval_fraction=eval_fraction, margin=margin)
    columns = ["prompt", "chosen", "rejected"] + (["margin"] if margin else [])

    def to_dataset(rows: list[dict[str, Any]]) -> Dataset:
        return Dataset.from_dict({column: [row[column] for row in rows] for column in columns})

    return DatasetDict(train=to_dataset(export.train), eval=to_dataset(export.eval))
