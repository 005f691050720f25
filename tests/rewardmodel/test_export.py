"""Export of approved preferences as TRL files: format, split by item, dataset card."""

import json
from pathlib import Path

from django.core.management import call_command

from rewardmodel.export import export_preferences, preference_dataset, split_by_item
from tests.rewardmodel.conftest import polite_items, rate_all


def read(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines()]


def test_export_is_read_by_datasets_with_trl_columns(rated_batch, tmp_path):
    from datasets import load_dataset

    batch = rated_batch(20)
    export_preferences(batches=[batch], out=tmp_path)
    data = load_dataset(
        "json",
        data_files={"train": str(tmp_path / "train.jsonl"), "eval": str(tmp_path / "eval.jsonl")},
    )
    assert data["train"].column_names == ["prompt", "chosen", "rejected", "margin"]
    assert data["eval"].column_names == ["prompt", "chosen", "rejected", "margin"]
    assert len(data["train"]) + len(data["eval"]) == 20
    assert len(data["eval"]) >= 1
    assert all("thank you" in row["chosen"] for row in data["train"])
    assert all(row["margin"] == 1.0 for row in data["train"])  # both workers agreed


def test_no_margin_leaves_the_column_out(rated_batch, tmp_path):
    export_preferences(batches=[rated_batch(5, overlap=1)], out=tmp_path, margin=False)
    assert set(read(tmp_path / "train.jsonl")[0]) == {"prompt", "chosen", "rejected"}


def test_split_keeps_each_items_pairs_together_and_is_deterministic(rated_batch, tmp_path):
    # A ranking of three answers gives three pairs per item, all with the same prompt.
    # The second batch asks the first one's prompts again, with other answers.
    batches = [rated_batch(30, overlap=1, task_type="ranking", seed=s) for s in (1, 2)]
    export_preferences(batches=batches, out=tmp_path / "one", eval_fraction=0.3)
    export_preferences(batches=batches[::-1], out=tmp_path / "two", eval_fraction=0.3)
    train, evaluation = read(tmp_path / "one/train.jsonl"), read(tmp_path / "one/eval.jsonl")
    assert len(train) + len(evaluation) == 2 * 30 * 3
    assert not {r["prompt"] for r in train} & {r["prompt"] for r in evaluation}
    assert 0.1 < len(evaluation) / (len(train) + len(evaluation)) < 0.5
    for name in ("train.jsonl", "eval.jsonl"):
        assert (tmp_path / "one" / name).read_text() == (tmp_path / "two" / name).read_text()


def test_two_items_never_leave_a_side_empty():
    rows = [{"prompt": str(i), "_key": (1, i)} for i in (1, 2)]
    for fraction in (0.01, 0.99):
        train, evaluation = split_by_item(rows, fraction)
        assert len(train) == len(evaluation) == 1


def test_dataset_card_names_batches_counts_agreement_and_licence(rated_batch, tmp_path):
    batch = rated_batch(12)
    batch.name = "Polite answers"
    batch.save(update_fields=["name"])
    export = export_preferences(batches=[batch], out=tmp_path, license="CC0-1.0")
    card = (tmp_path / "README.md").read_text()
    assert "license: CC0-1.0" in card
    assert f"| {batch.id} | Polite answers | pairwise | 12 | 12 | 1.000 |" in card
    assert f"Train: {len(export.train)} pairs" in card
    assert "Created: " in card
    assert "By prompt" in card
    # Share of pairs per confidence level (every pair of this unanimous batch is sure).
    assert "| Confidence | ≥ 0.5 | ≥ 0.7 | ≥ 0.8 | ≥ 0.9 | ≥ 0.95 | ≥ 0.99 |" in card
    assert "| Pairs | 100.0% | 100.0% |" in card


def test_unapproved_ratings_are_not_exported(make_batch, make_worker, tmp_path):
    batch = make_batch("pairwise", items=polite_items(4), quality={"review_mode": "manual"})
    rate_all(batch, [make_worker()])
    export = export_preferences(batches=[batch], out=tmp_path)
    assert export.train == export.eval == []


def test_preference_dataset_is_a_dataset_dict(rated_batch):
    data = preference_dataset(batches=[rated_batch(10, overlap=1)], margin=False)
    assert set(data) == {"train", "eval"}
    assert data["train"].column_names == ["prompt", "chosen", "rejected"]
    assert data["train"].num_rows + data["eval"].num_rows == 10


def test_export_command_writes_three_files(rated_batch, tmp_path, capsys):
    batch = rated_batch(6, overlap=1)
    call_command(
        "export_preferences", "--batch", str(batch.id), "--out", str(tmp_path), "--no-margin"
    )
    assert sorted(p.name for p in tmp_path.iterdir()) == ["README.md", "eval.jsonl", "train.jsonl"]
    assert "train pairs" in capsys.readouterr().out
