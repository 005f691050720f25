"""Background jobs named by their stable task name, queued once the transaction commits.

Services enqueue by name, so they never import a tasks module (tasks import services).
Without a broker the job runs in-process, as every Celery task does in the embedded set-up.

A broker that is down must not fail the request that queued the job: the state that
asked for the job is committed (a withdrawal `paying`, a run `queued`), and the periodic
job that owns that state queues it again once the broker is back.
"""

import logging
from typing import Any

from celery import current_app
from django.conf import settings
from django.db import transaction

log = logging.getLogger(__name__)
# One quick retry on a broker blip; a wallet waits on the request that publishes.
PUBLISH_RETRY = {"max_retries": 1, "interval_start": 0, "interval_step": 0.2, "interval_max": 0.2}


def enqueue(task_name: str, **kwargs: Any) -> None:
    """Queues `task_name(**kwargs)` after the current transaction commits (at once outside one)."""
    task = current_app.tasks[task_name]  # an unknown name is a bug: raise here, not later

    def publish() -> None:
        try:
            task.apply_async(kwargs=kwargs, retry_policy=PUBLISH_RETRY)
        except Exception:  # the broker is down: the periodic job will queue it again
            log.exception("could not queue %s %s; left for its periodic job", task_name, kwargs)

    transaction.on_commit(publish)


def runs_in_process() -> bool:
    """Whether jobs run in the process that queues them (no broker: the embedded set-up)."""
    return settings.CELERY_TASK_ALWAYS_EAGER


def check_broker(*, timeout_s: float = 2) -> None:
    """Raises unless the broker answers. A fresh connection each time: a pooled one could
    hide a broker that went away."""
    with current_app.connection_for_write(settings.CELERY_BROKER_URL) as conn:
        conn.ensure_connection(max_retries=1, timeout=timeout_s)
