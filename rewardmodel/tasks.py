"""Celery jobs of training runs, routed to the `training` queue (settings: rewardmodel.*)."""

from typing import Any

from celery import shared_task

from .services import runs


@shared_task(name="rewardmodel.execute_run")
def execute_run(*, run_id: int, **kwargs: Any) -> str:
    return runs.execute_run(run_id=run_id).status


@shared_task(name="rewardmodel.requeue_waiting_runs")
def requeue_waiting_runs(**kwargs: Any) -> int:
    return runs.requeue_waiting_runs()


@shared_task(name="rewardmodel.fail_stalled_runs")
def fail_stalled_runs(**kwargs: Any) -> int:
    return runs.fail_stalled_runs()
