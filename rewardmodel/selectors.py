"""Reads of training runs."""

from typing import Any

from django.db.models import QuerySet

from .models import TrainingRun


def visible_runs(*, user: Any) -> QuerySet[TrainingRun]:
    """Superusers see every run; anyone else the runs they started."""
    if user.is_superuser:
        return TrainingRun.objects.all()
    return TrainingRun.objects.filter(started_by=user)
