"""The site under gunicorn for tests that need real HTTP clients, on the test database."""

import os
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager

from django.conf import settings

from tests.celery_worker import ROOT, test_database_url
from tests.processes import free_port, stop_group, wait_for_http


@contextmanager
def gunicorn_server(*, env: dict[str, str], processes: int = 2, threads: int = 4) -> Iterator[str]:
    """Serves the site until the block ends; yields its base URL (bounded waits)."""
    port = free_port()
    base_url = f"http://127.0.0.1:{port}"
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "gunicorn",
            "marketplace.wsgi",
            "-b",
            f"127.0.0.1:{port}",
            "-w",
            str(processes),
            "-k",
            "gthread",
            "--threads",
            str(threads),
            "--log-level",
            "warning",
        ],
        cwd=ROOT,
        env={
            **os.environ,
            "DATABASE_URL": test_database_url(),
            "SECRET_KEY": settings.SECRET_KEY,
            "PUBLIC_BASE_URL": base_url,
            **env,
        },
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    try:
        if not wait_for_http(f"{base_url}/api/v1/lightning/info/", process, timeout=30):
            raise RuntimeError("gunicorn did not start")
        yield base_url
    finally:
        stop_group(process)
