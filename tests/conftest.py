"""Shared fixtures: requesters, workers (with a wallet key), batches and API clients."""

import os
from collections.abc import Callable
from typing import Any

import pytest
from coincurve import PrivateKey
from django.core.cache import cache
from django.utils import translation
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from labeling.models import Batch, Requester, Worker
from labeling.quality import options as quality_options
from labeling.services import batches as batch_services
from labeling.services import requesters as requester_services
from labeling.services import review as review_services
from marketplace.celery import app as celery_app
from payouts import ledger
from payouts.services import deposits as deposit_services
from payouts.services.lnurl_auth import worker_for_key
from serving.services import settling

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


@pytest.fixture(autouse=True)
def ledger_stays_balanced(request: pytest.FixtureRequest) -> Any:
    """After every database test, the ledger's invariants hold (entries sum to zero,
    cached balances equal their entries, no overdraft, holds match open withdrawals)."""
    uses_db = "_django_db_helper" in request.fixturenames or request.node.get_closest_marker(
        "django_db"
    )
    if not uses_db:
        yield
        return
    # Set the database up before this fixture, so that the check runs before its teardown.
    request.getfixturevalue("_django_db_helper")
    yield
    assert settling.wait_settled()  # served calls' settles still queued on their thread
    assert ledger.problems() == []


@pytest.fixture(autouse=True)
def fresh_rate_limits() -> Any:
    """Rate limits stay on in tests; each test starts with empty counters."""
    cache.clear()
    yield
    cache.clear()


@pytest.fixture(autouse=True)
def default_language() -> Any:
    """LocaleMiddleware leaves the language a request asked for active in the thread: each
    test starts in the default language, whatever an earlier test's browser asked for."""
    translation.deactivate()
    yield
    translation.deactivate()


@pytest.fixture
def fund_requester() -> Callable[..., Any]:
    def fund(requester: Requester, amount_msat: int) -> Any:
        return deposit_services.fund_requester(requester=requester, amount_msat=amount_msat)

    return fund


@pytest.fixture(autouse=True)
def eager_celery(request: Any) -> Any:
    """Jobs run in-process, as in the embedded set-up, except in tests marked `celery`,
    which run a real worker against the broker."""
    if request.node.get_closest_marker("celery"):
        yield
        return
    before = celery_app.conf.task_always_eager
    celery_app.conf.task_always_eager = True
    yield
    celery_app.conf.task_always_eager = before


@pytest.fixture
def make_requester(db: Any) -> Callable[..., Requester]:
    counter = iter(range(1, 10_000))

    def make(username: str | None = None) -> Requester:
        requester, _ = requester_services.create_requester(
            username=username or f"req{next(counter)}"
        )
        return requester

    return make


REQUESTER_FUNDS_MSAT = 10_000_000_000  # 0.1 BTC: enough for any batch a test posts by API


@pytest.fixture
def requester(make_requester: Callable[..., Requester]) -> Requester:
    """A funded requester (batches reserve their cost); make_requester() gives unfunded ones."""
    acme = make_requester("acme")
    deposit_services.fund_requester(requester=acme, amount_msat=REQUESTER_FUNDS_MSAT)
    return acme


@pytest.fixture
def make_worker(db: Any) -> Callable[..., Worker]:
    """A worker with its wallet key: an established one (the operator vouched for it, so
    it is paid at once) unless `on_probation`, as every new key starts."""

    def make(*, on_probation: bool = False) -> Worker:
        key = PrivateKey()
        worker = worker_for_key(key.public_key.format(compressed=True).hex())
        worker.private_key = key  # type: ignore[attr-defined]  # the test wallet
        if not on_probation:
            review_services.vouch_for(worker=worker)
        return worker

    return make


@pytest.fixture
def worker(make_worker: Callable[..., Worker]) -> Worker:
    return make_worker()


COST_OPTIONS = ("gold_overlap", "pay_gold", "bonus_percent")


@pytest.fixture
def make_batch(requester: Requester) -> Callable[..., Batch]:
    def make(
        task_type: str = "pairwise",
        *,
        items: list[dict] | None = None,
        overlap: int = 1,
        reward_msat: int = 5_000,
        owner: Requester | None = None,
        instructions: str = "Pick the **better** answer.",
        quality: dict | None = None,
        max_overlap: int | None = None,
    ) -> Batch:
        raw = items if items is not None else ITEMS[task_type]
        # Batches reserve their cost: fund the owner first, through a real (fake-node) deposit.
        options = quality_options.clean_quality_options(quality or {})
        cost_msat = batch_services.batch_cost(
            reward_msat=reward_msat,
            overlap=overlap,
            max_overlap=max_overlap,
            items_count=len(raw),
            gold_count=sum("gold" in item for item in raw),
            **{key: options[key] for key in COST_OPTIONS if key in options},
        )
        if cost_msat >= 1_000:
            deposit_services.fund_requester(requester=owner or requester, amount_msat=cost_msat)
        elif cost_msat:
            deposit_services.fund_requester(requester=owner or requester, amount_msat=1_000)
        return batch_services.create_batch(
            requester=owner or requester,
            name=f"{task_type} batch",
            task_type=task_type,
            instructions=instructions,
            reward_msat=reward_msat,
            overlap=overlap,
            max_overlap=max_overlap,
            items=batch_services.validate_items(task_type=task_type, items=raw),
            # Test clients answer at once: no "too fast" flag unless a test asks for it.
            quality={"min_seconds": 0} | (quality or {}),
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
