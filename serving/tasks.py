"""Celery jobs of serving (the default queue): thin wrappers over services."""

from typing import Any

from celery import shared_task

from .services import metering


@shared_task(name="serving.release_stale_calls")
def release_stale_calls(**kwargs: Any) -> int:
    return metering.release_stale_calls()
