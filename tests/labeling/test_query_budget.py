"""Hot endpoints run the same exact number of SQL statements on a small market and on a
twenty-times larger one: no statement per item, rating, batch or worker (no N+1).

The tests run outside a wrapping test transaction so the count is what production runs
(no SAVEPOINT statements from the test harness; BEGIN and COMMIT are counted). SQLite and
PostgreSQL run the same statements: PostgreSQL's row lock is a FOR UPDATE on the worker
SELECT, not a statement of its own, so one count holds for both (checked on both).
"""

from dataclasses import dataclass

import pytest
from django.urls import reverse
from rest_framework.test import APIClient

from labeling.models import Batch, Worker
from labeling.services import assignments as assignment_services
from labeling.services import ratings as rating_services
from tests.conftest import client_for

PAIR = [{"id": "a", "text": "A"}, {"id": "b", "text": "B"}]


@dataclass(frozen=True)
class Size:
    batches: int
    items_per_batch: int
    own_ratings: int  # the measured worker's ratings before it asks for a task
    other_workers: int
    ratings_per_other_worker: int


SIZES = {
    "small": Size(
        batches=1, items_per_batch=3, own_ratings=1, other_workers=1, ratings_per_other_worker=1
    ),
    "large": Size(
        batches=3, items_per_batch=20, own_ratings=30, other_workers=5, ratings_per_other_worker=10
    ),
}

# Each count includes the token lookup (one SELECT joining user, worker and requester).
# token, BEGIN, lock the worker (and find its open assignment), claim an item
# (UPDATE … RETURNING), its batch and responses, INSERT the assignment, COMMIT
NEXT_TASK_NEW_QUERIES = 7
# token, BEGIN, lock the worker, the open assignment with its item and batch, its
# responses, COMMIT
NEXT_TASK_AGAIN_QUERIES = 6
# token, the open assignment, the worker's latest ratings (for the flags that close it),
# BEGIN, close it, INSERT the rating, the ledger transfer (transfer, entries, two account
# UPDATEs), COMMIT, then the worker's balance
SUBMIT_PAID_QUERIES = 12
# token, the worker's rating totals, its balances
ME_QUERIES = 3
# token, the batch, its rating totals, the approved answers for the agreement
BATCH_PROGRESS_QUERIES = 4


def rate(worker: Worker, times: int) -> None:
    for _ in range(times):
        assignment = assignment_services.next_assignment_for(worker=worker)
        rating_services.submit_rating(
            worker=worker, assignment_id=assignment.id, ranking=["a", "b"]
        )


@dataclass
class Market:
    worker: Worker
    client: APIClient
    batch: Batch


@pytest.fixture(params=list(SIZES))
def market(request, make_batch, make_worker) -> Market:
    size = SIZES[request.param]
    batches = [
        make_batch(
            "pairwise",
            items=[
                {"prompt": f"b{b} q{i}", "responses": PAIR} for i in range(size.items_per_batch)
            ],
            overlap=3,
        )
        for b in range(size.batches)
    ]
    for _ in range(size.other_workers):
        rate(make_worker(), size.ratings_per_other_worker)
    worker = make_worker()
    rate(worker, size.own_ratings - 1)
    client = client_for(worker.user)
    # One answer over HTTP: the worker's client is recorded (a write only when it changes).
    task = client.get(reverse("task-next")).json()
    client.post(
        reverse("assignment-submit", args=[task["assignment_id"]]),
        {"ranking": ["a", "b"]},
        format="json",
    )
    client.get(reverse("me"))  # warm up anything cached per process
    return Market(worker=worker, client=client, batch=batches[0])  # the one most rated


@pytest.mark.django_db(transaction=True)
def test_next_task_submit_and_me_run_a_fixed_number_of_queries(market, django_assert_num_queries):
    client = market.client
    with django_assert_num_queries(NEXT_TASK_NEW_QUERIES):
        task = client.get(reverse("task-next")).json()
    with django_assert_num_queries(NEXT_TASK_AGAIN_QUERIES):
        assert client.get(reverse("task-next")).json() == task
    with django_assert_num_queries(SUBMIT_PAID_QUERIES):
        response = client.post(
            reverse("assignment-submit", args=[task["assignment_id"]]),
            {"ranking": ["a", "b"], "rationale": "ok"},
            format="json",
        )
    assert response.status_code == 201
    assert response.json()["status"] == "approved"
    assert response.json()["balance_msat"] == 5_000 * len(market.worker.ratings.all())
    with django_assert_num_queries(ME_QUERIES):
        assert client.get(reverse("me")).status_code == 200


@pytest.mark.django_db(transaction=True)
def test_batch_progress_runs_a_fixed_number_of_queries(
    market, requester, django_assert_num_queries
):
    client = client_for(requester.user)
    client.get(reverse("requester"))  # warm up anything cached per process
    with django_assert_num_queries(BATCH_PROGRESS_QUERIES):
        response = client.get(reverse("batch-detail", args=[market.batch.id]))
    assert response.status_code == 200
    assert response.json()["ratings_done"] > 0
