"""Training runs: config checks, queued → running → succeeded on the tiny models, readable
failures, the admin (own runs only, files, the batch action) and a real `training` worker."""

import os
import signal
import time
from pathlib import Path
from types import SimpleNamespace
from urllib.parse import urlsplit, urlunsplit

import pytest
from django.contrib.admin.helpers import ACTION_CHECKBOX_NAME
from django.core.management import CommandError, call_command
from django.urls import reverse

from rewardmodel import tasks
from rewardmodel.errors import InvalidTrainingConfig, NotYourBatches
from rewardmodel.models import TrainingRun
from rewardmodel.services import runs as run_services
from tests.celery_worker import celery_worker, redis_answers

os.environ.setdefault("HF_HUB_OFFLINE", "1")  # every model here is built locally
WAIT_S = 120


@pytest.fixture(scope="session")
def tiny_models(tmp_path_factory) -> dict[str, str]:
    pytest.importorskip("trl")
    from rewardmodel.pipeline.tiny import TinyArgs, build_tiny_models

    return build_tiny_models(TinyArgs(out=str(tmp_path_factory.mktemp("tiny"))))


@pytest.fixture(autouse=True)
def runs_dir(settings, tmp_path) -> Path:
    settings.TRAINING_RUNS_DIR = tmp_path / "runs"
    return settings.TRAINING_RUNS_DIR


def rm_config(tiny_models: dict[str, str], **overrides) -> dict:
    return {"model": tiny_models["reward"], "epochs": 2, "lr": 1e-3, "batch_size": 8} | overrides


def start(batch, config, *, kind="rm", user=None) -> TrainingRun:
    return run_services.start_run(
        kind=kind, batches=[batch], config=config, started_by=user, queue=False
    )


# --- starting a run ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("config", "message"),
    [
        ({"model": "tiny", "epochs": -1}, "epochs must be a number above 0"),
        ({"model": "tiny", "warmup": 3}, "Unknown option warmup"),
        ({}, "model is required"),
        ({"model": "tiny", "batch_size": "8"}, "batch_size must be a whole number, not '8'"),
        ({"model": "tiny", "lora": "yes"}, "lora must be true or false"),
    ],
)
def test_a_bad_config_is_refused_at_start(make_batch, config, message):
    with pytest.raises(InvalidTrainingConfig) as refused:
        start(make_batch(), config)
    assert message in str(refused.value)
    assert refused.value.status_code == 400
    assert not TrainingRun.objects.exists()


def test_defaults_are_recorded_in_the_config(make_batch):
    run = start(make_batch(), {"model": "tiny", "epochs": 3})
    assert run.status == "queued"
    assert run.config["epochs"] == 3.0
    assert run.config["lr"] == 1e-4
    assert run.config["eval_fraction"] == 0.1


def test_a_requester_trains_only_on_its_own_batches(make_batch, make_requester):
    other = make_requester()
    with pytest.raises(NotYourBatches) as refused:
        start(make_batch(), {"model": "tiny"}, user=other.user)
    assert refused.value.status_code == 403


def test_a_queued_run_is_sent_to_the_worker_on_commit(
    make_batch, monkeypatch, django_capture_on_commit_callbacks
):
    sent = []
    monkeypatch.setattr(tasks.execute_run, "apply_async", lambda kwargs: sent.append(kwargs))
    with django_capture_on_commit_callbacks(execute=True):
        run = run_services.start_run(
            kind="rm", batches=[make_batch()], config={"model": "tiny"}, queue=True
        )
        assert sent == []  # not before commit
    assert sent == [{"run_id": run.id}]


def test_the_task_is_routed_to_the_training_queue():
    from marketplace.celery import app

    route = app.amqp.router.route({}, "rewardmodel.execute_run")
    assert route["queue"].name == "training"


def test_ppo_needs_a_succeeded_reward_model_run(make_batch, requester):
    batch = make_batch()
    rm_run = start(batch, {"model": "tiny"}, user=requester.user)
    with pytest.raises(InvalidTrainingConfig, match="has not succeeded"):
        start(batch, {"policy": "tiny", "reward_model": rm_run.id}, kind="ppo")
    with pytest.raises(InvalidTrainingConfig, match="no reward model run 999"):
        start(batch, {"policy": "tiny", "reward_model": 999}, kind="ppo")


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


# --- executing it ------------------------------------------------------------------------


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
def test_an_unknown_model_path_fails_the_run_readably(rated_batch):
    run = start(rated_batch(6, overlap=1), {"model": "/nowhere/model"})
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
def test_tiny_means_the_tiny_models_built_once(runs_dir):
    folder = run_services.resolve_model("tiny", "reward")
    assert folder == str(runs_dir / "tiny" / "reward")
    assert (Path(folder) / "config.json").is_file()
    assert run_services.resolve_model("tiny", "policy") == str(runs_dir / "tiny" / "policy")


# --- the admin ---------------------------------------------------------------------------


def finished_run(batch, user, **fields) -> TrainingRun:
    run = start(batch, {"model": "tiny"}, user=user)
    TrainingRun.objects.filter(id=run.id).update(**fields)
    run.refresh_from_db()
    return run


def test_a_machine_without_the_training_stack_says_how_to_install_it():
    message = run_services.readable_error(ModuleNotFoundError("No module named 'trl'", name="trl"))
    assert "trl is not installed" in message and ".[train]" in message
    assert run_services.readable_error(ValueError("boom")) == "ValueError: boom"


def test_a_run_whose_worker_went_silent_is_failed_not_left_running(make_batch, requester):
    from datetime import timedelta

    from django.utils import timezone

    batch = make_batch("pairwise")
    now = timezone.now()
    silent = finished_run(
        batch, requester.user, status="running", heartbeat_at=now - timedelta(hours=2)
    )
    alive = finished_run(batch, requester.user, status="running", heartbeat_at=now)
    assert run_services.fail_stalled_runs(now=now) == 1
    silent.refresh_from_db()
    alive.refresh_from_db()
    assert (silent.status, alive.status) == ("failed", "running")
    assert "stopped reporting" in silent.error
    assert tasks.fail_stalled_runs.name == "rewardmodel.fail_stalled_runs"


def test_a_requester_sees_only_its_own_runs(client, make_batch, make_requester, requester):
    mine = finished_run(make_batch(), requester.user, status="succeeded")
    other = make_requester()
    theirs = finished_run(make_batch(owner=other), other.user, status="succeeded")
    client.force_login(requester.user)
    page = client.get(reverse("admin:rewardmodel_trainingrun_changelist"))
    assert page.status_code == 200
    assert list(page.context["cl"].result_list) == [mine]
    assert client.get(reverse("admin:rewardmodel_trainingrun_change", args=[mine.id])).status_code
    assert (
        client.get(reverse("admin:rewardmodel_trainingrun_change", args=[theirs.id])).status_code
        == 302  # the admin's "does not exist" redirect
    )


def test_a_failed_run_shows_its_error_not_a_stack_trace(client, make_batch, requester):
    run = finished_run(
        make_batch(), requester.user, status="failed", error="model folder /x does not exist"
    )
    client.force_login(requester.user)
    page = client.get(reverse("admin:rewardmodel_trainingrun_change", args=[run.id]))
    assert page.status_code == 200
    assert "model folder /x does not exist" in page.content.decode()


def test_run_files_are_served_from_the_runs_own_folder_only(
    client, make_batch, make_requester, requester
):
    run = finished_run(make_batch(), requester.user, status="succeeded")
    (run.directory / "model").mkdir(parents=True)
    (run.directory / "model" / "curves.png").write_bytes(b"\x89PNG fake")
    (run.directory / "data").mkdir()
    (run.directory / "data" / "train.jsonl").write_text('{"prompt": "p"}\n')
    (run.directory / "secret.txt").write_text("no")
    client.force_login(requester.user)

    def get(name, run_id=run.id):
        return client.get(reverse("admin:rewardmodel_trainingrun_file", args=[run_id, name]))

    curves = get("curves.png")
    assert curves.status_code == 200
    assert curves["Content-Type"] == "image/png"
    assert b"".join(curves.streaming_content) == b"\x89PNG fake"
    assert "attachment" in get("train.jsonl")["Content-Disposition"]
    assert get("secret.txt").status_code == 404
    assert get("..").status_code == 404
    assert get("eval.jsonl").status_code == 404  # not written
    page = client.get(reverse("admin:rewardmodel_trainingrun_change", args=[run.id]))
    assert reverse("admin:rewardmodel_trainingrun_file", args=[run.id, "curves.png"]) in (
        page.content.decode()
    )
    client.force_login(make_requester().user)
    assert get("curves.png").status_code == 404  # not their run


def test_the_batch_action_starts_a_queued_run(
    client, make_batch, requester, monkeypatch, django_capture_on_commit_callbacks
):
    sent = []
    monkeypatch.setattr(tasks.execute_run, "apply_async", lambda kwargs: sent.append(kwargs))
    batch = make_batch()
    client.force_login(requester.user)
    url = reverse("admin:labeling_batch_changelist")
    chosen = {"action": "train_reward_model", ACTION_CHECKBOX_NAME: [batch.id]}
    form = client.post(url, chosen)
    assert form.status_code == 200
    assert "Train a reward model" in form.content.decode()
    assert form.context["form"]["model"].value() == "tiny"

    fields = {"model": "tiny", "epochs": "-1", "lr": "0.001", "batch_size": "8"}
    refused = client.post(url, chosen | fields | {"max_length": "256", "start_run": "1"})
    assert refused.status_code == 200
    assert "epochs must be a number above 0" in refused.content.decode()

    with django_capture_on_commit_callbacks(execute=True):
        done = client.post(
            url, chosen | fields | {"epochs": "2", "max_length": "256", "start_run": "1"}
        )
    run = TrainingRun.objects.get()
    assert done.status_code == 302
    assert done["Location"] == reverse("admin:rewardmodel_trainingrun_change", args=[run.id])
    assert (run.status, run.started_by, list(run.batches.all())) == (
        "queued",
        requester.user,
        [batch],
    )
    assert run.config["epochs"] == 2.0
    assert sent == [{"run_id": run.id}]


def test_the_policy_action_starts_a_run_on_a_reward_model_run(
    client, make_batch, requester, monkeypatch, django_capture_on_commit_callbacks
):
    monkeypatch.setattr(tasks.execute_run, "delay", lambda **kwargs: None)
    batch = make_batch()
    rm_run = finished_run(batch, requester.user, status="succeeded", artifact_path="/rm")
    client.force_login(requester.user)
    url = reverse("admin:rewardmodel_trainingrun_changelist")
    chosen = {"action": "tune_policy", ACTION_CHECKBOX_NAME: [rm_run.id]}
    assert "Tune a policy" in client.post(url, chosen).content.decode()
    fields = {"policy": "tiny", "algo": "grpo", "steps": "3", "batch_size": "8"}
    fields |= {"max_new_tokens": "16", "lr": "1e-6", "kl_coef": "0.05", "start_run": "1"}
    with django_capture_on_commit_callbacks(execute=True):
        assert client.post(url, chosen | fields).status_code == 302
    run = TrainingRun.objects.get(kind="ppo")
    assert run.config["reward_model"] == rm_run.id
    assert (run.config["algo"], run.config["steps"]) == ("grpo", 3)
    assert list(run.batches.all()) == [batch]


# --- a real worker on the `training` queue ---------------------------------------------


def training_broker_url() -> str:
    """Redis database 5 of CELERY_BROKER_URL's server (or the local one): our own queue space."""
    base = os.environ.get("CELERY_BROKER_URL", "")
    if not base.startswith("redis://"):
        base = "redis://127.0.0.1:6379/0"
    return urlunsplit(urlsplit(base)._replace(path="/5"))


BROKER = training_broker_url()


@pytest.fixture
def training_worker(transactional_db, monkeypatch, runs_dir, settings):
    """The test process sends to Redis; a `training` worker process shares the test database."""
    from marketplace.celery import app

    saved = {key: app.conf[key] for key in ("task_always_eager", "broker_url")}
    app.conf.update(task_always_eager=False, broker_url=BROKER)
    # Celery reads CELERY_BROKER_URL from the environment before its own settings.
    monkeypatch.setenv("CELERY_BROKER_URL", BROKER)
    monkeypatch.setattr(app, "_pool", None)  # connections to the new broker
    monkeypatch.setattr(app.amqp, "_producer_pool", None)
    with app.connection_for_write() as conn:
        conn.default_channel.queue_purge("training")
    options = ["-P", "solo", "-c", "1"]
    with celery_worker(
        broker=BROKER,
        queue="training",
        options=options,
        env={
            "TRAINING_RUNS_DIR": str(runs_dir),
            "HF_HUB_OFFLINE": "1",
            "LIGHTNING_BACKEND": "fake",
        },
    ) as process:
        yield process
    if app._pool is not None:
        app._pool.force_close_all()
    app.conf.update(saved)


@pytest.mark.skipif(
    not os.environ.get("DATABASE_URL", "").startswith("postgres"),
    reason="the worker process must share the test database, which on SQLite is in memory; "
    "run with DATABASE_URL=postgres://… (CI does)",
)
@pytest.mark.skipif(not redis_answers(BROKER), reason=f"needs Redis at {BROKER}")
@pytest.mark.celery
@pytest.mark.postgres
@pytest.mark.train
@pytest.mark.django_db(transaction=True)
def test_a_training_worker_runs_a_queued_run(tiny_models, training_worker, rated_batch):
    batch = rated_batch(16, overlap=1)
    run = run_services.start_run(
        kind="rm", batches=[batch], config=rm_config(tiny_models, epochs=1), queue=True
    )
    deadline = time.monotonic() + WAIT_S
    while time.monotonic() < deadline and training_worker.poll() is None:
        run.refresh_from_db()
        if run.is_finished:
            break
        time.sleep(0.5)
    if not run.is_finished:
        os.killpg(training_worker.pid, signal.SIGTERM)
        output = training_worker.stdout.read().decode(errors="replace")[-3000:]
        pytest.fail(f"run still {run.status}; worker said:\n{output}")
    assert run.status == "succeeded", run.error
    assert (Path(run.artifact_path) / "metrics.json").is_file()
    assert run.metrics["train_samples"] + run.metrics["eval_samples"] == 16


# --- the command -------------------------------------------------------------------------


@pytest.mark.train
def test_the_command_trains_in_the_foreground(tiny_models, rated_batch, capsys):
    batch = rated_batch(12, overlap=1)
    call_command("train_reward_model", "--batch", str(batch.id), "--model", tiny_models["reward"])
    out = capsys.readouterr().out
    assert "[100%] eval accuracy" in out
    assert f"Run {TrainingRun.objects.get().id} succeeded: eval accuracy" in out


def test_the_command_refuses_a_bad_config_in_one_line(make_batch):
    with pytest.raises(CommandError, match="epochs must be a number above 0"):
        call_command(
            "train_reward_model", "--batch", str(make_batch().id), "--model", "x", "--epochs", "0"
        )


def test_the_command_queues_a_run(make_batch, capsys):
    call_command("train_reward_model", "--batch", str(make_batch().id), "--model", "x", "--queue")
    run = TrainingRun.objects.get()
    assert run.status == "queued"
    assert f"Run {run.id} queued" in capsys.readouterr().out
