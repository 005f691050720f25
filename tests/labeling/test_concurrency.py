"""Many workers asking for tasks at once never over-fill an item, nor take one past its
max_overlap; held ratings are decided once under races (PostgreSQL row locks)."""

import threading
import time
from collections import Counter

import pytest
from django.db import connection
from django.urls import reverse

from labeling.models import Assignment, Item, Rating, Worker
from labeling.services import review as review_services
from tests.conftest import client_for, needs_postgres

THREADS = 32
OVERLAP = 3


@needs_postgres
@pytest.mark.django_db(transaction=True)
def test_concurrent_workers_never_overfill_or_repeat_items(make_batch, make_worker):
    items = [
        {"prompt": f"q{i}", "responses": [{"id": "a", "text": "A"}, {"id": "b", "text": "B"}]}
        for i in range(40)
    ]
    make_batch("pairwise", items=items, overlap=OVERLAP)
    clients = [client_for(make_worker().user) for _ in range(THREADS)]
    barrier = threading.Barrier(THREADS)
    errors: list[str] = []

    def work(client) -> None:
        try:
            barrier.wait(timeout=30)
            for _ in range(len(items)):  # bounded: a worker can rate each item at most once
                response = client.get(reverse("task-next"))
                if response.status_code == 204:
                    return
                if response.status_code != 200:
                    errors.append(f"next {response.status_code}")
                    return
                task = response.json()
                done = client.post(
                    reverse("assignment-submit", args=[task["assignment_id"]]),
                    {"ranking": ["a", "b"]},
                    format="json",
                )
                if done.status_code != 201:
                    errors.append(f"submit {done.status_code} {done.content[:200]!r}")
        finally:
            connection.close()

    threads = [threading.Thread(target=work, args=(c,)) for c in clients]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert not any(thread.is_alive() for thread in threads)
    assert errors == []
    per_item = Counter(Rating.objects.values_list("item_id", flat=True))
    assert max(per_item.values()) <= OVERLAP
    assert sum(per_item.values()) == len(items) * OVERLAP  # and every slot got filled
    pairs = Counter(Assignment.objects.values_list("worker_id", "item_id"))
    assert max(pairs.values()) == 1
    assert set(Item.objects.values_list("slots_left", flat=True)) == {0}


@needs_postgres
@pytest.mark.django_db(transaction=True)
def test_one_worker_asking_twice_at_once_gets_one_assignment(make_batch, worker):
    make_batch("pairwise")
    clients = [client_for(worker.user) for _ in range(8)]
    barrier = threading.Barrier(len(clients))
    seen: list[int | str] = []

    def ask(client) -> None:
        try:
            barrier.wait(timeout=30)
            response = client.get(reverse("task-next"))
            seen.append(
                response.json()["assignment_id"]
                if response.status_code == 200
                else f"status {response.status_code}"
            )
        except Exception as exc:
            seen.append(repr(exc))
        finally:
            connection.close()

    threads = [threading.Thread(target=ask, args=(c,)) for c in clients]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert len(seen) == len(clients)
    assert len(set(seen)) == 1, seen
    assert Assignment.objects.filter(worker=worker, status="open").count() == 1


@needs_postgres
@pytest.mark.django_db(transaction=True)
def test_concurrent_workers_never_take_an_item_past_max_overlap(make_batch, make_worker):
    """Every vote is split, so every item asks for more: never more than max_overlap."""
    items = [
        {"prompt": f"q{i}", "responses": [{"id": "a", "text": "A"}, {"id": "b", "text": "B"}]}
        for i in range(6)
    ]
    make_batch(
        "pairwise",
        items=items,
        overlap=2,
        max_overlap=5,
        quality={"min_confidence": 0.99, "min_seconds": 0},
    )
    clients = [client_for(make_worker().user) for _ in range(16)]
    barrier = threading.Barrier(len(clients))
    errors: list[str] = []

    def work(client, n: int) -> None:
        try:
            barrier.wait(timeout=30)
            # An item asks for more votes only once its first ones are in, so a worker
            # who finds nothing may find work a moment later: wait a bounded while.
            rated, idle = 0, 0
            while rated < len(items) and idle < 100:
                response = client.get(reverse("task-next"))
                if response.status_code == 204:
                    idle += 1
                    time.sleep(0.05)
                    continue
                idle, rated = 0, rated + 1
                task = response.json()
                best = "ab"[n % 2]
                done = client.post(
                    reverse("assignment-submit", args=[task["assignment_id"]]),
                    {"ranking": [best, "ab".replace(best, "")]},
                    format="json",
                )
                if done.status_code != 201:
                    errors.append(f"submit {done.status_code} {done.content[:200]!r}")
        finally:
            connection.close()

    threads = [threading.Thread(target=work, args=(c, n)) for n, c in enumerate(clients)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert not any(thread.is_alive() for thread in threads)
    assert errors == []
    per_item = Counter(Rating.objects.values_list("item_id", flat=True))
    assert max(per_item.values()) <= 5
    assert all(item.slots_left == 0 for item in Item.objects.all())


@needs_postgres
@pytest.mark.django_db(transaction=True)
def test_held_ratings_are_decided_once_when_approval_and_closing_race(make_batch, make_worker):
    """The operator vouches for a worker on probation while it is closed: each held rating
    ends approved or rejected, paid at most once (the ledger check after the test)."""
    items = [
        {"prompt": f"q{i}", "responses": [{"id": "a", "text": "A"}, {"id": "b", "text": "B"}]}
        for i in range(10)
    ]
    make_batch("pairwise", items=items)
    worker = make_worker(on_probation=True)
    client = client_for(worker.user)
    for _ in range(10):
        task = client.get(reverse("task-next")).json()
        client.post(
            reverse("assignment-submit", args=[task["assignment_id"]]),
            {"ranking": ["a", "b"]},
            format="json",
        )
    barrier = threading.Barrier(2)

    def vouch() -> None:
        try:
            barrier.wait(timeout=30)
            review_services.vouch_for(worker=Worker.objects.get(id=worker.id))
        finally:
            connection.close()

    def close() -> None:
        try:
            barrier.wait(timeout=30)
            review_services.close_worker(
                worker=Worker.objects.get(id=worker.id), reason="closed by the operator"
            )
        finally:
            connection.close()

    threads = [threading.Thread(target=vouch), threading.Thread(target=close)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert not any(thread.is_alive() for thread in threads)
    statuses = Counter(Rating.objects.values_list("status", flat=True))
    assert sum(statuses.values()) == 10 and "pending_review" not in statuses
    me = client.get(reverse("me")).json()
    assert me["pending_msat"] == 0
    assert me["balance_msat"] == 5_000 * statuses["approved"]
