"""Celery jobs of the labeling app: thin wrappers over services, named for the beat schedule."""

from datetime import timedelta
from typing import Any

from celery import shared_task
from django.utils import timezone

from .services import assignments, batches, review


@shared_task(name="labeling.expire_assignments")
def expire_assignments(**kwargs: Any) -> int:
    return assignments.expire_assignments()


@shared_task(name="labeling.review_worker")
def review_worker(*, worker_id: int, **kwargs: Any) -> dict[str, int]:
    return review.review_worker(worker_id=worker_id)


@shared_task(name="labeling.aggregate_recent_batches")
def aggregate_recent_batches(*, minutes: int = 10, **kwargs: Any) -> int:
    """Re-aggregates batches that received ratings lately (beat, every few minutes)."""
    return review.aggregate_recent_batches(since=timezone.now() - timedelta(minutes=minutes))


@shared_task(name="labeling.aggregate_batch")
def aggregate_batch(*, batch_id: int, **kwargs: Any) -> dict[str, float]:
    return review.aggregate_batch(batch_id=batch_id)


@shared_task(name="labeling.approve_overdue")
def approve_overdue(**kwargs: Any) -> int:
    return review.approve_overdue()


@shared_task(name="labeling.complete_finished_batches")
def complete_finished_batches(**kwargs: Any) -> int:
    return batches.complete_finished_batches()
