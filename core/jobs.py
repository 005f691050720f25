"""Background jobs named by their stable task name, queued once the transaction commits.

Services enqueue by name, so they never import a tasks module (tasks import services).
Without a broker the job runs in-process, as every Celery task does in the embedded set-up.
"""

from typing import Any

from celery import current_app
from django.db import transaction


def enqueue(task_name: str, **kwargs: Any) -> None:
    """Queues `task_name(**kwargs)` after the current transaction commits (at once outside one)."""
    transaction.on_commit(lambda: current_app.tasks[task_name].apply_async(kwargs=kwargs))
