"""Frees the holds of calls whose web process died mid-call, charging nothing (the beat job
`serving.release_stale_calls` runs the same; this is for deployments without Celery)."""

from typing import Any

from django.core.management.base import BaseCommand

from serving.services import metering


class Command(BaseCommand):
    help = "Releases calls still holding money after SERVING_STALE_CALL_SECONDS."

    def handle(self, *args: Any, **options: Any) -> None:
        self.stdout.write(f"released {metering.release_stale_calls()} call(s)")
