"""A real Celery worker on the `training` queue runs a queued run to success."""

import os
import signal
import time
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import pytest

from marketplace.celery import app
from rewardmodel.services import runs as run_services
from tests.celery_worker import celery_worker, redis_answers
from tests.rewardmodel.run_helpers import rm_config

WAIT_S = 120


def training_broker_url() -> str:
    """Redis database 5 of CELERY_BROKER_URL's server (or the local one): our own queue space."""
    base = os.environ.get("CELERY_BROKER_URL", "")
    if not base.startswith("redis://"):
        base = "redis://127.0.0.1:6379/0"
    return urlunsplit(urlsplit(base)._replace(path="/5"))


BROKER = training_broker_url()


@pytest.fixture
def training_worker(transactional_db, monkeypatch, runs_dir, settings, tiny_models):
    """The test process sends to Redis; a `training` worker process shares the test database."""
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
            # The worker knows the site's base models from its own settings, as in production.
            "TRAINING_BASE_MODELS": ",".join(
                f"{name}={folder}" for name, folder in settings.TRAINING_BASE_MODELS.items()
            ),
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
