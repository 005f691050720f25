"""Celery app. Without CELERY_BROKER_URL, tasks run eagerly in the calling process."""

import os
from typing import Any

from celery import Celery, Task
from celery.signals import task_postrun, task_prerun
from django.db import close_old_connections

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "marketplace.settings")

app = Celery("marketplace")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()


@task_prerun.connect
@task_postrun.connect
def recycle_database_connections(sender: Task | None = None, **kwargs: Any) -> None:
    """Keeps a worker's database connection between jobs, as a web process keeps it
    between requests: up to CONN_MAX_AGE, and closed when it broke.

    Celery's own Django fix-up would close it around every job (settings raise its
    CELERY_DB_REUSE_MAX out of the way); a new PostgreSQL backend per payment costs
    more than the payment. Eager jobs run inside the caller's transaction: left alone.
    """
    if sender is None or getattr(sender.request, "is_eager", False):
        return
    close_old_connections()
