"""Celery jobs of the labeling app: thin wrappers over services."""

from typing import Any

from celery import shared_task

from . import services


@shared_task(name="labeling.expire_assignments")
def expire_assignments(**kwargs: Any) -> int:
    return services.expire_assignments()
