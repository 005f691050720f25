"""A running run whose worker stopped sending heartbeats is failed, not left running."""

from datetime import timedelta

import pytest
from django.utils import timezone

from rewardmodel import tasks
from rewardmodel.services import runs as run_services
from tests.rewardmodel.run_helpers import finished_run

pytestmark = pytest.mark.usefixtures("runs_dir")


def test_a_run_whose_worker_went_silent_is_failed_not_left_running(make_batch, requester):
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
