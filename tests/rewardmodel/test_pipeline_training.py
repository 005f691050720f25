"""The training pipeline end to end on tiny offline models: reward model, tuning, sampling."""

import json
import os
import random
from pathlib import Path

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")  # everything here is built locally
pytest.importorskip("trl")

from rewardmodel.pipeline.__main__ import main
from rewardmodel.pipeline.data import drop_overlong_pairs, load_preferences
from rewardmodel.pipeline.reward import RewardArgs, train_reward_model

pytestmark = pytest.mark.train

WORDS = ["sun", "water", "tree", "house", "river", "cloud", "stone", "road", "light", "small"]


def write_pairs(folder: Path, *, shuffle_labels: bool, seed: int = 0) -> Path:
    """Pairs whose chosen answer says "thank you" somewhere; optionally labels coin-flipped."""
    rng = random.Random(seed)
    folder.mkdir(parents=True, exist_ok=True)
    for name, count in (("train.jsonl", 256), ("eval.jsonl", 100)):
        with (folder / name).open("w") as lines:
            for _ in range(count):
                polite = rng.choices(WORDS, k=rng.randint(3, 8))
                polite.insert(rng.randint(0, len(polite)), "thank you")
                row = {
                    "prompt": f"Say something about the {rng.choice(WORDS)}.",
                    "chosen": " ".join(polite),
                    "rejected": " ".join(rng.choices(WORDS, k=rng.randint(4, 9))),
                }
                if shuffle_labels and rng.random() < 0.5:
                    row["chosen"], row["rejected"] = row["rejected"], row["chosen"]
                lines.write(json.dumps(row) + "\n")
    return folder


@pytest.fixture(scope="session")
def tiny(tmp_path_factory) -> dict[str, str]:
    return main(["tiny-models", "--out", str(tmp_path_factory.mktemp("tiny"))])


@pytest.fixture(scope="session")
def trained_reward(tiny, tmp_path_factory) -> tuple[Path, dict]:
    root = tmp_path_factory.mktemp("rm")
    data = write_pairs(root / "data", shuffle_labels=False)
    progress: list[tuple[float, str]] = []
    args = RewardArgs(
        data=str(data),
        model=tiny["reward"],
        out=str(root / "model"),
        epochs=3,
        lr=1e-3,
        batch_size=16,
    )
    metrics = train_reward_model(args, progress=lambda f, m: progress.append((f, m)))
    metrics["progress"] = progress
    return root, metrics


def test_reward_model_learns_a_consistent_preference(trained_reward):
    metrics = trained_reward[1]
    assert metrics["eval_accuracy"] >= 0.9
    assert metrics["train_samples"] == 256
    assert metrics["eval_samples"] == 100
    assert metrics["dropped_pairs"] == 0
    assert metrics["train_samples_per_second"] > 0


def test_reward_model_saves_weights_metrics_and_curves(trained_reward):
    from transformers import AutoModelForSequenceClassification

    root, _ = trained_reward
    saved = json.loads((root / "model" / "metrics.json").read_text())
    assert {"eval_accuracy", "eval_loss", "train_runtime", "dropped_pairs"} <= saved.keys()
    assert (root / "model" / "curves.png").stat().st_size > 0
    model = AutoModelForSequenceClassification.from_pretrained(root / "model")
    assert model.config.num_labels == 1


def test_training_reports_progress_up_to_done(trained_reward):
    fractions = [fraction for fraction, _ in trained_reward[1]["progress"]]
    assert fractions == sorted(fractions)
    assert fractions[-1] == 1.0


def test_shuffled_labels_stay_at_chance(tiny, tmp_path):
    data = write_pairs(tmp_path / "data", shuffle_labels=True)
    metrics = main(
        f"train-rm --data {data} --model {tiny['reward']} --out {tmp_path / 'rm'}"
        " --epochs 3 --lr 1e-3 --batch-size 16".split()
    )
    assert 0.35 <= metrics["eval_accuracy"] <= 0.65


def test_eval_rm_reports_accuracy_and_margins(trained_reward, capsys):
    root, metrics = trained_reward
    main(["eval-rm", "--model", str(root / "model"), "--data", str(root / "data" / "eval.jsonl")])
    report = json.loads(capsys.readouterr().out)
    assert report["pairs"] == 100
    assert report["accuracy"] == pytest.approx(metrics["eval_accuracy"], abs=0.05)
    assert report["margin_mean"] > 0
    assert {"margin_median", "margin_std"} <= report.keys()


def test_overlong_pairs_are_counted_not_silently_lost(trained_reward, tiny):
    from transformers import AutoTokenizer

    root, _ = trained_reward
    tokenizer = AutoTokenizer.from_pretrained(tiny["reward"])
    pairs = load_preferences(root / "data" / "train.jsonl", tokenizer)
    kept, dropped = drop_overlong_pairs(pairs, tokenizer, max_length=20)
    assert dropped > 0
    assert len(kept) + dropped == len(pairs)


@pytest.mark.parametrize("algo", ["ppo", "grpo", "rloo"])
def test_policy_tuning_runs_and_records_reward_and_kl(algo, tiny, trained_reward, tmp_path):
    root, _ = trained_reward
    out = tmp_path / "policy"
    main(
        f"ppo --algo {algo} --policy {tiny['policy']} --reward-model {root / 'model'}"
        f" --prompts {root / 'data' / 'eval.jsonl'} --out {out}"
        " --steps 2 --batch-size 4 --num-generations 2 --max-new-tokens 8".split()
    )
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["steps"] == 2
    assert isinstance(metrics["reward_before"], float)
    assert isinstance(metrics["reward_after"], float)
    assert metrics["kl"] is not None
    assert (out / "config.json").exists()
    assert (out / "curves.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_sample_writes_a_batch_of_pairs(tiny, tmp_path):
    prompts = tmp_path / "prompts.jsonl"
    prompts.write_text(
        json.dumps({"prompt": "How do I boil an egg?"})
        + "\n"
        + json.dumps({"prompt": "Why is the sky blue?", "responses": [{"id": "a", "text": "x"}]})
        + "\n"
    )
    out = tmp_path / "batch.jsonl"
    main(["sample", "--policy", tiny["policy"], "--prompts", str(prompts), "--out", str(out)])
    items = [json.loads(line) for line in out.read_text().splitlines()]
    assert [item["prompt"] for item in items] == ["How do I boil an egg?", "Why is the sky blue?"]
    for item in items:
        assert [r["id"] for r in item["responses"]] == ["a", "b"]
        assert all(isinstance(r["text"], str) for r in item["responses"])


def test_missing_data_folder_is_a_readable_error(tiny, tmp_path):
    with pytest.raises(SystemExit) as exit_info:
        main(
            f"train-rm --data {tmp_path / 'nope'} --model {tiny['reward']} --out {tmp_path}".split()
        )
    assert "train.jsonl" in str(exit_info.value.code)


def test_unknown_model_path_is_a_readable_error(trained_reward, tmp_path):
    root, _ = trained_reward
    with pytest.raises(SystemExit) as exit_info:
        main(
            f"train-rm --data {root / 'data'} --model {tmp_path / 'none'} --out {tmp_path}".split()
        )
    assert "does not exist" in str(exit_info.value.code)


def test_lora_reward_model_is_saved_merged(trained_reward, tiny, tmp_path):
    from transformers import AutoModelForSequenceClassification

    root, _ = trained_reward
    main(
        f"train-rm --data {root / 'data'} --model {tiny['reward']} --out {tmp_path / 'rm'}"
        " --epochs 0.25 --lora".split()
    )
    assert not (tmp_path / "rm" / "adapter_config.json").exists()
    model = AutoModelForSequenceClassification.from_pretrained(tmp_path / "rm")
    assert model.config.num_labels == 1
