"""Answers that look careless are flagged: too fast ones are held for review; straight-lining,
position bias and a habit of too-fast answers close the worker on every batch and reject
what it has waiting, in the transaction of the answer that shows it."""

import os
import random

import pytest
from django.urls import reverse

from labeling import selectors
from labeling.models import Batch, Rating, Worker
from labeling.quality import trust
from labeling.services import assignments as assignment_services
from labeling.services import review as review_services
from marketplace.celery import app
from tests.celery_worker import redis_answers
from tests.labeling.quality_helpers import answer, plain_items

needs_redis = pytest.mark.skipif(
    not redis_answers(os.environ.get("CELERY_BROKER_URL", "")),
    reason="needs Redis at CELERY_BROKER_URL (CI sets redis://…)",
)


def test_too_fast_answers_are_flagged_and_held_as_pending_money(make_batch, worker_client):
    make_batch("pairwise", quality={"min_seconds": 30})
    task = worker_client.get(reverse("task-next")).json()
    body = worker_client.post(
        reverse("assignment-submit", args=[task["assignment_id"]]),
        {"ranking": ["a", "b"]},
        format="json",
    ).json()
    assert body["status"] == "pending_review"
    assert body["balance_msat"] == 0
    assert Rating.objects.get().flags == ["too_fast"]
    me = worker_client.get(reverse("me")).json()
    assert me["pending_msat"] == 5_000 and me["balance_msat"] == 0


def test_straight_lining_closes_the_batch_and_rejects_waiting_ratings(make_batch, worker):
    window = trust.STRAIGHT_LINING_WINDOW
    make_batch("pairwise", items=plain_items(window + 2), quality={"review_mode": "manual"})
    for _ in range(window + 2):
        answer(worker, lambda a: a.order[0])  # always the top card
    review_services.review_worker(worker_id=worker.id)
    batch = Rating.objects.first().batch
    assert selectors.batch_closed_to(worker=worker, batch=batch)
    assert set(Rating.objects.values_list("status", flat=True)) == {"rejected"}
    assert "straight_lining" in Rating.objects.first().reason


def close_everywhere_by_straight_lining(make_batch, worker):
    """The worker has an approved rating on one batch and a held one on another, then always
    taps the top card on a third until the flag fires."""
    paid = make_batch("pairwise", items=plain_items(1))
    held = make_batch("pairwise", items=plain_items(1), quality={"review_mode": "manual"})
    make_batch("pairwise", items=plain_items(trust.STRAIGHT_LINING_WINDOW + 5, start=100))
    approved = answer(worker, lambda a: a.order[1])
    waiting = answer(worker, lambda a: a.order[1])
    assert (approved.batch_id, approved.status) == (paid.id, "approved")
    assert (waiting.batch_id, waiting.status) == (held.id, "pending_review")
    last = None
    for _ in range(trust.STRAIGHT_LINING_WINDOW):
        last = answer(worker, lambda a: a.order[0]) or last
    return approved, waiting, last


def assert_closed_everywhere(worker, approved, waiting, last):
    # Decided by the submit itself: no job has run.
    assert last.status == "rejected" and "straight_lining" in last.reason
    worker.refresh_from_db()
    assert worker.standing == Worker.Standing.CLOSED
    waiting.refresh_from_db()
    approved.refresh_from_db()
    assert waiting.status == "rejected"
    assert approved.status == "approved"  # money already paid stays paid
    assert assignment_services.next_assignment_for(worker=worker) is None
    fresh = Batch.objects.order_by("-id").first()
    assert selectors.batch_closed_to(worker=worker, batch=fresh)


def test_straight_lining_closes_the_worker_on_every_batch_in_the_same_submit(make_batch, worker):
    assert_closed_everywhere(worker, *close_everywhere_by_straight_lining(make_batch, worker))


@needs_redis
@pytest.mark.celery
def test_with_a_real_broker_the_flag_closes_at_once_without_any_job(make_batch, worker):
    """Jobs go to Redis and no worker takes them: the decision must not need one."""
    with app.connection_for_write() as conn:
        conn.default_channel.queue_purge("default")
    try:
        assert_closed_everywhere(worker, *close_everywhere_by_straight_lining(make_batch, worker))
    finally:
        with app.connection_for_write() as conn:
            conn.default_channel.queue_purge("default")


def test_too_fast_as_a_habit_closes_the_worker(make_batch, worker):
    make_batch("pairwise", items=plain_items(12), quality={"min_seconds": 60})
    statuses = [answer(worker, lambda a: "a").status for _ in range(trust.TOO_FAST_CLOSE)]
    assert statuses[:-1] == ["pending_review"] * (trust.TOO_FAST_CLOSE - 1)
    assert statuses[-1] == "rejected"
    worker.refresh_from_db()
    assert worker.standing == Worker.Standing.CLOSED
    assert set(worker.ratings.values_list("status", flat=True)) == {"rejected"}


def test_position_bias_closes_a_worker_who_mostly_taps_the_top_card(make_batch, worker):
    make_batch("pairwise", items=plain_items(trust.POSITION_BIAS_WINDOW + 20))
    rng = random.Random(5)
    for _ in range(trust.POSITION_BIAS_WINDOW + 15):
        # Top card 90% of the time: not an opinion.
        if answer(worker, lambda a: a.order[0] if rng.random() < 0.9 else a.order[1]) is None:
            break
    worker.refresh_from_db()
    assert worker.standing == Worker.Standing.CLOSED
    assert "position_bias" in worker.closed_reason or "straight_lining" in worker.closed_reason
