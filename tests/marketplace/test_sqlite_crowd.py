"""The embedded set-up (`make run`: SQLite, runserver) holds a small team: 25 labelers who
sign in and rate at the same moment all get their answers, none "database is locked".

The site runs on its own SQLite file whatever database the suite itself uses."""

import json
import os
import random
import subprocess
import sys
import threading
import time
from http.client import HTTPConnection
from pathlib import Path
from urllib.parse import urlsplit

from coincurve import PrivateKey

from tests.processes import free_port, stop_group, wait_for_http

ROOT = Path(__file__).resolve().parents[2]
LABELERS = 25
RATINGS_EACH = 3


class Labeler:
    """A wallet and a phone: signs in over LNURL-auth, then rates; records any failure."""

    def __init__(self, port: int, failures: list[str]) -> None:
        self.http = HTTPConnection("127.0.0.1", port, timeout=30)
        self.failures = failures
        self.headers: dict[str, str] = {"Content-Type": "application/json"}
        self.ratings = 0

    def call(self, method: str, path: str, body: object = None, expect: int = 200) -> object:
        data = json.dumps(body) if body is not None else None
        self.http.request(method, path, body=data, headers=self.headers)
        response = self.http.getresponse()
        text = response.read()
        if response.status != expect:
            self.failures.append(f"{method} {urlsplit(path).path}: {response.status}")
            return None
        return json.loads(text) if text else None

    def sign_in(self) -> bool:
        offer = self.call("POST", "/api/v1/auth/lnurl/", expect=201)
        if not isinstance(offer, dict):
            return False
        key = PrivateKey()
        sig = key.sign(bytes.fromhex(offer["k1"]), hasher=None).hex()
        url = urlsplit(offer["url"])
        signed = f"{url.path}?{url.query}&sig={sig}&key={key.public_key.format().hex()}"
        if self.call("GET", signed) != {"status": "OK"}:
            self.failures.append(f"callback refused for {offer['k1']}")
            return False
        done = self.call("GET", f"/api/v1/auth/lnurl/{offer['k1']}/?poll_key={offer['poll_key']}")
        if not isinstance(done, dict):
            return False
        self.headers["Authorization"] = f"Token {done['token']}"
        return True

    def rate(self) -> None:
        for _ in range(RATINGS_EACH):
            task = self.call("GET", "/api/v1/tasks/next/")
            if not isinstance(task, dict):
                return
            ids = [response["id"] for response in task["task"]["responses"]]
            if task["task"]["type"] == "likert":
                answer: dict[str, object] = {"scores": {i: random.randint(1, 7) for i in ids}}
            else:
                answer = {"ranking": random.sample(ids, len(ids))}
            path = f"/api/v1/assignments/{task['assignment_id']}/submit/"
            if self.call("POST", path, answer, expect=201) is not None:
                self.ratings += 1

    def run(self, start: threading.Barrier) -> None:
        start.wait(timeout=30)
        try:
            if self.sign_in():
                self.rate()
        except OSError as error:
            self.failures.append(f"no answer: {error!r}")


def test_25_labelers_sign_in_and_rate_at_once_without_an_error(tmp_path: Path) -> None:
    port = free_port()
    env = {
        **os.environ,
        "DEBUG": "1",
        "DATABASE_URL": f"sqlite:///{tmp_path / 'db.sqlite3'}",
        "PUBLIC_BASE_URL": f"http://127.0.0.1:{port}",
        "CELERY_BROKER_URL": "",
        "LIGHTNING_BACKEND": "fake",
        "LOG_LEVEL": "WARNING",
        "RATE_LIMIT_LOGIN": "",
        "RATE_LIMIT_LNURL": "",
    }
    manage = [sys.executable, "manage.py"]
    for command in (["migrate", "--noinput", "-v", "0"], ["loaddemo"]):
        subprocess.run(
            manage + command, cwd=ROOT, env=env, check=True, timeout=60, stdout=subprocess.DEVNULL
        )
    server = subprocess.Popen(
        [*manage, "runserver", f"127.0.0.1:{port}", "--noreload"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    try:
        assert wait_for_http(f"http://127.0.0.1:{port}/api/v1/lightning/info/", server, 30)
        failures: list[str] = []
        labelers = [Labeler(port, failures) for _ in range(LABELERS)]
        start = threading.Barrier(LABELERS)
        threads = [
            threading.Thread(target=labeler.run, args=(start,), daemon=True) for labeler in labelers
        ]
        for thread in threads:
            thread.start()
        deadline = time.monotonic() + 45
        for thread in threads:
            thread.join(timeout=max(0.0, deadline - time.monotonic()))
        assert not any(thread.is_alive() for thread in threads)
    finally:
        stop_group(server)
    assert failures == []
    assert sum(labeler.ratings for labeler in labelers) == LABELERS * RATINGS_EACH
