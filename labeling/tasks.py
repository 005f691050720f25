"""Celery jobs of the labeling app: thin wrappers over services."""

from typing import Any

from celery import shared_task

from . import services


@shared_task(name="labeling.expire_assignments")
def expire_assignments(**kwargs: Any) -> int:
    return services.expire_assignments()


@shared_task(name="labeling.review_worker")
def review_worker(*, worker_id: int, **kwargs: Any) -> dict[str, int]:
    from .quality import review

    return review.review_worker(worker_id=worker_id)


@shared_task(name="labeling.aggregate_recent_batches")
def aggregate_recent_batches(*, minutes: int = 10, **kwargs: Any) -> int:
    """Re-aggregates batches that received ratings lately (beat, every few minutes)."""
    from datetime import timedelta

    from django.utils import timezone

    from .quality import review

    batch_ids = review.batches_to_aggregate(since=timezone.now() - timedelta(minutes=minutes))
    for batch_id in batch_ids:
        review.aggregate_batch(batch_id=batch_id)
    return len(batch_ids)


@shared_task(name="labeling.approve_overdue")
def approve_overdue(**kwargs: Any) -> int:
    from .quality import review

    return review.approve_overdue()


@shared_task(name="labeling.complete_finished_batches")
def complete_finished_batches(**kwargs: Any) -> int:
    return services.complete_finished_batches()
