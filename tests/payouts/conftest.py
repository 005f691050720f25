"""Payouts tests run Celery jobs in-process unless a test starts a real worker; a real
LNbits is started once per session for the lnbits backend tests (skipped when absent)."""

import json
import os
import subprocess
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from payouts.lightning.fake import FakeBackend
from tests.processes import free_port, stop_group, wait_for_http


@pytest.fixture(autouse=True)
def healthy_fake_node():
    FakeBackend.mode = "ok"
    yield
    FakeBackend.mode = "ok"


# --- a real LNbits (FakeWallet funding source) in its own virtualenv --------------------

ROOT = Path(__file__).resolve().parents[2]
LNBITS_BIN = ROOT / ".lnbits-venv" / "bin" / "lnbits"


@dataclass
class Lnbits:
    url: str
    token: str  # the superuser's bearer token

    def call(self, method: str, path: str, body: Any = None, **headers: str) -> Any:
        data = None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(
            f"{self.url}{path}",
            data=data,
            method=method,
            headers={"Content-Type": "application/json", **headers},
        )
        with urllib.request.urlopen(request, timeout=15) as response:
            return json.loads(response.read() or b"{}")

    def new_wallet(self, name: str, *, sats: int = 0) -> dict[str, Any]:
        wallet = self.call("POST", "/api/v1/account", {"name": name})
        if sats:
            self.call(
                "PUT",
                "/users/api/v1/balance",
                {"id": wallet["id"], "amount": sats},
                Authorization=f"Bearer {self.token}",
            )
        return wallet


@pytest.fixture(scope="session")
def lnbits(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Lnbits]:
    if not LNBITS_BIN.exists():
        pytest.skip("LNbits is not installed (make .lnbits-venv)")
    package = next((ROOT / ".lnbits-venv" / "lib").glob("python3*/site-packages/lnbits"))
    home = tmp_path_factory.mktemp("lnbits")
    (home / "lnbits").symlink_to(package)  # it serves lnbits/static relative to the cwd
    (home / "data").mkdir()
    (home / "extensions").mkdir()
    port = free_port()
    env = {
        "PATH": os.environ.get("PATH", ""),
        "HOME": str(home),
        "LNBITS_BACKEND_WALLET_CLASS": "FakeWallet",
        "LNBITS_DATA_FOLDER": str(home / "data"),
        "LNBITS_EXTENSIONS_PATH": str(home / "extensions"),
    }
    log = open(home / "lnbits.log", "wb")  # noqa: SIM115  (closed below)
    process = subprocess.Popen(
        [str(LNBITS_BIN), "--host", "127.0.0.1", "--port", str(port)],
        cwd=home,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,  # it runs its server in a child process: stop the group
    )
    url = f"http://127.0.0.1:{port}"
    try:
        if not wait_for_http(f"{url}/api/v1/health", process, timeout=60):
            pytest.fail(f"LNbits did not start: {(home / 'lnbits.log').read_text()[-2000:]}")
        server = Lnbits(url=url, token="")
        password = "payouts-test-1"
        answer = server.call(
            "PUT",
            "/api/v1/auth/first_install",
            {"username": "admin", "password": password, "password_repeat": password},
        )
        server.token = answer["access_token"]
        yield server
    finally:
        stop_group(process)
        log.close()
