"""A queued run is sent, after commit, to the `training` queue."""

import pytest

from marketplace.celery import app
from rewardmodel import tasks
from rewardmodel.services import runs as run_services

pytestmark = pytest.mark.usefixtures("runs_dir")


def test_a_queued_run_is_sent_to_the_worker_on_commit(
    make_batch, monkeypatch, django_capture_on_commit_callbacks
):
    sent = []
    monkeypatch.setattr(tasks.execute_run, "apply_async", lambda kwargs, **_: sent.append(kwargs))
    with django_capture_on_commit_callbacks(execute=True):
        run = run_services.start_run(
            kind="rm", batches=[make_batch()], config={"model": "tiny"}, queue=True
        )
        assert sent == []  # not before commit
    assert sent == [{"run_id": run.id}]


def test_the_task_is_routed_to_the_training_queue():
    route = app.amqp.router.route({}, "rewardmodel.execute_run")
    assert route["queue"].name == "training"
