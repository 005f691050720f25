"""Shared fixtures: requesters, workers (with a wallet key), batches and API clients."""

import os
from collections.abc import Callable
from typing import Any

import pytest
from coincurve import PrivateKey
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from labeling import services
from labeling.models import Batch, Requester, Worker
from payouts.lnurl_auth import worker_for_key

PAIRWISE_ITEMS = [
    {
        "prompt": f"Question {i}: what is {i} + {i}?",
        "responses": [
            {"id": "a", "text": f"{i + i}"},
            {"id": "b", "text": f"{i * 3 + 1}"},
        ],
    }
    for i in range(1, 6)
]
RANKING_ITEMS = [
    {
        "prompt": f"Rank the answers to question {i}.",
        "responses": [{"id": key, "text": f"Answer {key} to {i}"} for key in ("x", "y", "z")],
    }
    for i in range(1, 4)
]
LIKERT_ITEMS = [
    {
        "prompt": f"Score the answers to question {i}.",
        "responses": [{"id": key, "text": f"Answer {key} to {i}"} for key in ("p", "q")],
    }
    for i in range(1, 4)
]
ITEMS = {"pairwise": PAIRWISE_ITEMS, "ranking": RANKING_ITEMS, "likert": LIKERT_ITEMS}


needs_postgres = pytest.mark.skipif(
    not os.environ.get("DATABASE_URL", "").startswith("postgres"),
    reason="needs PostgreSQL (row locks); CI runs it with DATABASE_URL=postgres://…",
)


@pytest.fixture
def make_requester(db: Any) -> Callable[..., Requester]:
    counter = iter(range(1, 10_000))

    def make(username: str | None = None) -> Requester:
        requester, _ = services.create_requester(username=username or f"req{next(counter)}")
        return requester

    return make


@pytest.fixture
def requester(make_requester: Callable[..., Requester]) -> Requester:
    return make_requester("acme")


@pytest.fixture
def make_worker(db: Any) -> Callable[..., Worker]:
    def make() -> Worker:
        key = PrivateKey()
        worker = worker_for_key(key.public_key.format(compressed=True).hex())
        worker.private_key = key  # type: ignore[attr-defined]  # the test wallet
        return worker

    return make


@pytest.fixture
def worker(make_worker: Callable[..., Worker]) -> Worker:
    return make_worker()


@pytest.fixture
def make_batch(requester: Requester) -> Callable[..., Batch]:
    def make(task_type: str = "pairwise", *, items: list[dict] | None = None,
             overlap: int = 1, reward_msat: int = 5_000, owner: Requester | None = None,
             instructions: str = "Pick the **better** answer.") -> Batch:
        raw = items if items is not None else ITEMS[task_type]
        return services.create_batch(
            requester=owner or requester,
            name=f"{task_type} batch",
            task_type=task_type,
            instructions=instructions,
            reward_msat=reward_msat,
            overlap=overlap,
            items=services.validate_items(task_type=task_type, items=raw),
        )

    return make


def client_for(user: Any) -> APIClient:
    client = APIClient()
    token, _ = Token.objects.get_or_create(user=user)
    client.credentials(HTTP_AUTHORIZATION=f"Token {token.key}")
    return client


@pytest.fixture
def worker_client(worker: Worker) -> APIClient:
    return client_for(worker.user)


@pytest.fixture
def requester_client(requester: Requester) -> APIClient:
    return client_for(requester.user)
