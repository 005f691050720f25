"""Served models on real engine processes (the echo engine, or a tiny transformers model),
and helpers that pay L402 challenges through the fake node's demo wallet."""

import json
import subprocess
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from django.urls import reverse
from rest_framework.test import APIClient

from serving.models import ServedModel
from serving.services import publishing, rowcache, settling
from tests.celery_worker import ROOT
from tests.processes import free_port, stop_group, wait_for_http
from tests.rewardmodel.run_helpers import finished_run

PRICES = {"price_msat_per_1k_input": 1_000, "price_msat_per_1k_output": 10_000}


@contextmanager
def engine_process(*args: str) -> Iterator[str]:
    """`python -m serving.engines.server ARGS` on a free port; yields its base URL."""
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "serving.engines.server", "--port", str(port), *args],
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    try:
        if not wait_for_http(f"http://127.0.0.1:{port}/health", process, timeout=60):
            raise RuntimeError("the engine did not start")
        yield f"http://127.0.0.1:{port}"
    finally:
        stop_group(process)


@pytest.fixture(scope="session", autouse=True)
def settling_thread_disconnects(django_db_setup: None) -> Iterator[None]:
    """The test databases are dropped at the end: the settling thread lets go of them."""
    yield
    settling.disconnect()


@pytest.fixture(autouse=True)
def fresh_row_copies() -> Iterator[None]:
    """Each test starts with no copies of another test's rows (the process's, rowcache)."""
    rowcache.clear()
    yield
    rowcache.clear()


@pytest.fixture
def settle_inline(monkeypatch: pytest.MonkeyPatch) -> None:
    """Settles on the request's own thread and connection, to see its statements there (in
    service the process's settling thread runs it once the answer has gone)."""
    monkeypatch.setattr(settling, "settle_soon", lambda settle: settle())


@pytest.fixture(scope="session")
def echo_engine() -> Iterator[str]:
    with engine_process("--engine", "echo", "--name", "echo") as url:
        yield url


@pytest.fixture
def publish(requester: Any, make_batch: Any) -> Callable[..., ServedModel]:
    """Publishes a succeeded run of `owner` (default: the requester) on an engine URL."""

    def make(
        name: str = "echo",
        *,
        engine_url: str = "",
        kind: str = "ppo",
        owner: Any = None,
        prices: dict[str, int] | None = None,
        max_tokens: int = 64,
    ) -> ServedModel:
        owner = owner or requester
        run = finished_run(
            make_batch(owner=owner),
            owner.user,
            status="succeeded",
            kind=kind,
            artifact_path="/nowhere",
        )
        if prices is None:
            prices = PRICES if kind == "ppo" else {"price_msat_per_response": 2_000}
        model = publishing.publish_model(
            user=owner.user, run_id=run.id, name=name, prices=prices, max_tokens=max_tokens
        )
        ServedModel.objects.filter(id=model.id).update(engine_url=engine_url)
        model.refresh_from_db()
        return model

    return make


@pytest.fixture
def echo_model(publish: Any, echo_engine: str) -> ServedModel:
    return publish("echo", engine_url=echo_engine)


def chat_body(model: str = "echo", text: str = "one two three", **extra: Any) -> dict[str, Any]:
    return {"model": model, "messages": [{"role": "user", "content": text}], **extra}


def buy_credit(
    client: Any, body: dict[str, Any], *, path: str = "/v1/chat/completions", query: str = ""
) -> str:
    """Answers the 402 challenge: pays its invoice with the demo wallet; the L402 header."""
    challenge = client.post(path + query, json.dumps(body), content_type="application/json")
    assert challenge.status_code == 402, challenge.content
    paid = APIClient().post(
        reverse("fake-pay"), {"bolt11": challenge.json()["invoice"]}, format="json"
    )
    assert paid.status_code == 200
    macaroon = challenge["WWW-Authenticate"].split('macaroon="')[1].split('"')[0]
    return f"L402 {macaroon}:{paid.json()['preimage']}"
