"""Celery job of training runs, routed to the `training` queue (settings: rewardmodel.*)."""

from typing import Any

from celery import shared_task


@shared_task(name="rewardmodel.execute_run")
def execute_run(*, run_id: int, **kwargs: Any) -> str:
    from . import services

    return services.execute_run(run_id=run_id).status


@shared_task(name="rewardmodel.fail_stalled_runs")
def fail_stalled_runs(**kwargs: Any) -> int:
    from . import services

    return services.fail_stalled_runs()
