"""Answers that look careless are flagged: too fast ones are held for review, straight-lining
closes the batch to the worker and rejects what it has waiting."""

from django.urls import reverse

from labeling import selectors
from labeling.models import Rating
from labeling.services import review as review_services
from tests.labeling.quality_helpers import answer, plain_items


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
    make_batch("pairwise", items=plain_items(14), quality={"review_mode": "manual"})
    for _ in range(14):
        answer(worker, lambda a: a.order[0])  # always the top card
    review_services.review_worker(worker_id=worker.id)
    batch = Rating.objects.first().batch
    assert selectors.batch_closed_to(worker=worker, batch=batch)
    assert set(Rating.objects.values_list("status", flat=True)) == {"rejected"}
    assert "straight_lining" in Rating.objects.first().reason
