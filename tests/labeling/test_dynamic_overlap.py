"""Dynamic overlap: an item not yet confident after `overlap` votes is served to more workers,
up to `max_overlap`; the batch reserves `max_overlap` and releases what it did not use."""

import pytest
from django.urls import reverse

from labeling.models import Item
from labeling.services import batches as batch_services
from labeling.services import review as review_services
from payouts import ledger
from tests.labeling.quality_helpers import PAIR, answer, gold_items, plain_items

DYNAMIC = {
    "name": "dynamic",
    "task_type": "pairwise",
    "reward_msat": 1_000,
    "overlap": 3,
    "max_overlap": 7,
    "quality": {"min_confidence": 0.95},
    "items": [{"prompt": f"q{i}", "responses": PAIR} for i in range(4)],
}


def test_the_reservation_covers_max_overlap(requester_client):
    response = requester_client.post(reverse("batch-create"), DYNAMIC, format="json")
    assert response.status_code == 201
    assert response.json()["cost_msat"] == 1_000 * 7 * 4
    assert (
        batch_services.batch_cost(reward_msat=1_000, overlap=3, max_overlap=7, items_count=4)
        == response.json()["cost_msat"]
    )


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"max_overlap": 2}, "max_overlap"),
        ({"max_overlap": 51}, "max_overlap"),
        ({"max_overlap": "many"}, "max_overlap"),
        ({"quality": {"min_confidence": 1.5}}, "min_confidence"),
        ({"quality": {"min_confidence": "sure"}}, "min_confidence"),
    ],
)
def test_bad_dynamic_overlap_is_refused_and_nothing_is_reserved(
    requester_client, requester, change, field
):
    before = requester_client.get(reverse("requester")).json()
    response = requester_client.post(reverse("batch-create"), DYNAMIC | change, format="json")
    assert response.status_code == 400
    assert field in response.json()
    assert requester_client.get(reverse("requester")).json() == before


def test_a_split_item_gets_more_votes_and_a_unanimous_one_does_not(make_batch, make_worker):
    make_batch("pairwise", items=gold_items(1))  # served first: one right gold answer each
    batch = make_batch(
        "pairwise",
        items=plain_items(2),
        overlap=3,
        max_overlap=7,
        # One gold answer right of one: each vote is right 2.5 / 4 of the time (the prior is
        # worth three answers, half right), so it weighs log(0.625 / 0.375); three agreeing: 0.82.
        quality={"min_confidence": 0.8},
    )
    split, unanimous = Item.objects.filter(batch=batch).order_by("position")
    workers = [make_worker() for _ in range(9)]
    for worker in workers:
        assert answer(worker, lambda a: "a").item.gold is not None
    # Three votes on each: the first item splits 2-1, the second is unanimous.
    for i, worker in enumerate(workers[:3]):
        answer(worker, lambda a, i=i: "b" if (i == 2 and a.item_id == split.id) else "a")
        answer(worker, lambda a, i=i: "b" if (i == 2 and a.item_id == split.id) else "a")
    split.refresh_from_db()
    unanimous.refresh_from_db()
    assert unanimous.slots_left == 0
    assert split.slots_left == 1  # one more vote asked for
    # More workers keep answering until the split item is sure or has seven votes.
    for worker in workers[3:]:
        answer(worker, lambda a: "a")
    assert split.ratings.count() == 5  # 4-1 gives 0.82
    assert unanimous.ratings.count() == 3
    split.refresh_from_db()
    assert split.slots_left == 0


def test_progress_shows_votes_per_item_and_the_share_below_confidence(
    make_batch, make_worker, requester_client
):
    batch = make_batch(
        "pairwise", items=plain_items(2), overlap=2, max_overlap=2, quality={"min_confidence": 0.9}
    )
    url = reverse("batch-detail", args=[batch.id])
    assert requester_client.get(url).json()["below_confidence"] is None  # nothing rated
    for pick in ("a", "b"):
        worker = make_worker()
        answer(worker, lambda a, pick=pick: pick)
        answer(worker, lambda a: "a")
    body = requester_client.get(url).json()
    assert body["votes_per_item"] == 2.0
    assert body["below_confidence"] == 0.5  # the split item only


def test_completing_a_batch_releases_the_unused_dynamic_slots(make_batch, make_worker, requester):
    batch = make_batch(
        "pairwise",
        items=plain_items(1),
        overlap=3,
        max_overlap=7,
        reward_msat=1_000,
        quality={"min_confidence": 0.5},
    )
    for _ in range(3):
        answer(make_worker(), lambda a: "a")
    before = ledger.balance_msat(ledger.requester_available(requester.id))
    assert batch_services.complete_finished_batches() == 1
    after = ledger.balance_msat(ledger.requester_available(requester.id))
    assert after - before == 4 * 1_000  # seven reserved, three paid
    assert ledger.balance_msat(ledger.batch_reserved(batch.id)) == 0
    assert review_services.aggregate_batch(batch_id=batch.id)["pairs"] == 1
