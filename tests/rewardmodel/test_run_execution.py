"""Executing a run: queued → running → succeeded on the tiny models, progress written
sparingly, and failures readable."""

import time
from pathlib import Path
from types import SimpleNamespace

import pytest

from rewardmodel.models import TrainingRun
from rewardmodel.services import runs as run_services
from tests.rewardmodel.run_helpers import rm_config, start

pytestmark = pytest.mark.usefixtures("runs_dir")


def test_progress_is_written_at_most_once_a_second_and_always_at_the_end(make_batch, monkeypatch):
    run = start(make_batch(), {"model": "tiny"})
    clock = iter([100.0, 100.2, 100.5, 101.1, 101.2])
    monkeypatch.setattr(run_services, "time", SimpleNamespace(monotonic=lambda: next(clock)))
    tail = run_services.LogTail()
    report = run_services.ProgressReporter(run.id, tail, echo=None)
    written = []
    for fraction in (0.1, 0.2, 0.3, 0.4, 1.0):
        report(fraction, f"step {fraction}")
        run.refresh_from_db()
        written.append(run.progress)
    assert written == [0.1, 0.1, 0.1, 0.4, 1.0]
    assert run.progress_message == "step 1.0"


@pytest.mark.train
def test_a_reward_model_run_goes_from_queued_to_succeeded(tiny_models, rated_batch, requester):
    run = start(rated_batch(30, overlap=1), rm_config(tiny_models), user=requester.user)
    assert run.status == "queued"
    seen = []

    def echo(fraction, message):
        seen.append((TrainingRun.objects.get(id=run.id).status, fraction, message))

    started = time.perf_counter()
    run = run_services.execute_run(run_id=run.id, echo=echo)
    elapsed = time.perf_counter() - started
    assert run.status == "succeeded", run.error
    assert seen and all(status == "running" for status, _, _ in seen)
    assert seen[-1][1] == 1.0
    assert run.progress == 1.0
    assert 0 <= run.metrics["eval_accuracy"] <= 1
    assert run.metrics["train_samples"] + run.metrics["eval_samples"] == 30
    model = Path(run.artifact_path)
    assert (model / "config.json").is_file()
    assert (model / "curves.png").stat().st_size > 0
    assert sorted(p.name for p in Path(run.dataset_path).iterdir()) == [
        "README.md",
        "eval.jsonl",
        "train.jsonl",
    ]
    assert run.started_at <= run.finished_at
    assert "exported" in run.logs_tail
    print(f"tiny rm run: eval accuracy {run.metrics['eval_accuracy']:.3f} in {elapsed:.1f}s")

    finished_at = run.finished_at
    again = run_services.execute_run(run_id=run.id)  # a redelivered job does nothing
    assert (again.status, again.finished_at) == ("succeeded", finished_at)


@pytest.mark.train
def test_a_base_model_whose_folder_is_gone_fails_the_run_readably(rated_batch, settings):
    settings.TRAINING_BASE_MODELS = {"gone": "/nowhere/model"}
    run = start(rated_batch(6, overlap=1), {"model": "gone"})
    run = run_services.execute_run(run_id=run.id)
    assert run.status == "failed"
    assert run.error == "model folder /nowhere/model does not exist"
    assert "Traceback" in run.logs_tail  # for whoever debugs it; the page shows `error`
    assert run.finished_at is not None


@pytest.mark.train
def test_a_batch_without_approved_ratings_fails_readably(tiny_models, make_batch):
    run = run_services.execute_run(run_id=start(make_batch(), rm_config(tiny_models)).id)
    assert run.status == "failed"
    assert run.error.startswith("Too few approved preference pairs to train: 0 for training")


@pytest.mark.train
def test_a_policy_run_tunes_against_a_reward_model(tiny_models, rated_batch):
    config = {
        "policy": tiny_models["policy"],
        "reward_model": tiny_models["reward"],
        "steps": 2,
        "batch_size": 4,
        "max_new_tokens": 8,
        "eval_prompts": 2,
    }
    run = run_services.execute_run(run_id=start(rated_batch(8, overlap=1), config, kind="ppo").id)
    assert run.status == "succeeded", run.error
    assert run.metrics["steps"] == 2
    assert {"reward_before", "reward_after", "kl"} <= run.metrics.keys()
    assert (Path(run.dataset_path) / "prompts.jsonl").read_text().count("\n") == 8


@pytest.mark.train
def test_the_model_tiny_is_built_once_in_the_runs_folder(runs_dir):
    folder = run_services.resolve_model("tiny", "reward")
    assert folder == str(runs_dir / "tiny" / "reward")
    assert (Path(folder) / "config.json").is_file()
    assert run_services.resolve_model("tiny", "policy") == str(runs_dir / "tiny" / "policy")


def test_a_machine_without_the_training_stack_says_how_to_install_it():
    message = run_services.readable_error(ModuleNotFoundError("No module named 'trl'", name="trl"))
    assert "trl is not installed" in message and ".[train]" in message
    assert run_services.readable_error(ValueError("boom")) == "ValueError: boom"
