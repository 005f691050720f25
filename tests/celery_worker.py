"""A real Celery worker process for integration tests, sharing the test database."""

import os
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from django.conf import settings
from django.db import connection

from tests.processes import stop_group

ROOT = Path(__file__).resolve().parents[1]


def redis_answers(url: str) -> bool:
    if not url.startswith("redis://"):
        return False
    import redis

    try:
        return bool(redis.Redis.from_url(url, socket_timeout=1).ping())
    except redis.RedisError:
        return False


def test_database_url() -> str:
    """The URL of the database this test runs in (pytest-django's test database)."""
    db = connection.settings_dict
    login = db["USER"] + (f":{db['PASSWORD']}" if db.get("PASSWORD") else "")
    return f"postgres://{login}@{db['HOST']}:{db['PORT'] or 5432}/{db['NAME']}"


@contextmanager
def celery_worker(
    *, broker: str, queue: str, options: list[str], env: dict[str, str]
) -> Iterator[subprocess.Popen]:
    """Runs `celery worker -Q queue` until the block ends, then stops it (bounded waits)."""
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "celery",
            "-A",
            "marketplace",
            "worker",
            "-Q",
            queue,
            *options,
            "--without-gossip",
            "--without-mingle",
            "--without-heartbeat",
            "-l",
            "WARNING",
        ],
        cwd=ROOT,
        env={
            **os.environ,
            "DATABASE_URL": test_database_url(),
            "CELERY_BROKER_URL": broker,
            "SECRET_KEY": settings.SECRET_KEY,
            "DB_CONN_MAX_AGE": "60",  # as deployed: connections kept between jobs
            **env,
        },
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    try:
        yield process
    finally:
        stop_group(process)
