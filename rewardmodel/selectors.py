"""Reads of training runs."""

from typing import Any

from django.db.models import QuerySet

from labeling.models import Batch

from .models import TrainingRun


def visible_runs(*, user: Any) -> QuerySet[TrainingRun]:
    """Superusers see every run; anyone else the runs they started."""
    if user.is_superuser:
        return TrainingRun.objects.all()
    return TrainingRun.objects.filter(started_by=user)


def trainable_batches(*, user: Any) -> QuerySet[Batch]:
    """The batches a user may train on: a requester's own; every batch for superusers."""
    if user.is_superuser:
        return Batch.objects.all()
    requester = getattr(user, "requester", None)
    if requester is None:
        return Batch.objects.none()
    return Batch.objects.filter(requester=requester)
