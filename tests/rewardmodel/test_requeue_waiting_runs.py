"""A run whose job was lost (the broker was down when it was queued) is published again
after a while; publishing twice trains once, because a run is claimed once."""

from datetime import timedelta

import pytest
from django.utils import timezone

from core import jobs
from rewardmodel.models import TrainingRun
from rewardmodel.services import runs as run_services

pytestmark = pytest.mark.usefixtures("runs_dir")


def test_a_long_queued_run_is_published_again_once_per_wait(make_batch, monkeypatch, settings):
    settings.TRAINING_REQUEUE_SECONDS = 600
    published: list[tuple[str, dict]] = []
    monkeypatch.setattr(jobs, "enqueue", lambda name, **kwargs: published.append((name, kwargs)))
    run = run_services.start_run(
        kind="rm", batches=[make_batch()], config={"model": "tiny"}, queue=True
    )
    assert published == [("rewardmodel.execute_run", {"run_id": run.id})]
    now = timezone.now()
    assert run_services.requeue_waiting_runs(now=now + timedelta(minutes=5)) == 0  # not yet
    assert run_services.requeue_waiting_runs(now=now + timedelta(minutes=11)) == 1
    assert run_services.requeue_waiting_runs(now=now + timedelta(minutes=12)) == 0  # just did
    assert published[1:] == [("rewardmodel.execute_run", {"run_id": run.id})]


def test_a_started_or_foreground_run_is_never_published_again(make_batch, settings):
    settings.TRAINING_REQUEUE_SECONDS = 0
    foreground = run_services.start_run(
        kind="rm", batches=[make_batch()], config={"model": "tiny"}, queue=False
    )
    assert TrainingRun.objects.get(id=foreground.id).queued_at is None
    assert run_services.requeue_waiting_runs(now=timezone.now() + timedelta(days=1)) == 0
