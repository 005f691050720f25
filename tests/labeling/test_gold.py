"""Gold items: scored against their known answer, hidden from workers, spread through the
batch, and free when the requester does not pay for them."""

import pytest
from django.urls import reverse

from labeling.models import Rating
from labeling.quality import trust
from labeling.selectors import task_payload
from labeling.services import assignments as assignment_services
from labeling.services import ratings as rating_services
from tests.labeling.quality_helpers import answer, gold_items, plain_items


def test_gold_answers_are_scored_and_move_the_workers_trust(make_batch, worker):
    make_batch("pairwise", items=gold_items(2))
    right = answer(worker, lambda a: "a")
    wrong = answer(worker, lambda a: "b")
    assert (right.gold_correct, wrong.gold_correct) == (True, False)
    worker.refresh_from_db()
    assert (worker.gold_seen, worker.gold_correct) == (2, 1)
    assert worker.trust == pytest.approx((1 + 3) / (2 + 5))


def test_gold_is_not_shown_to_workers_and_an_answer_claiming_it_counts_for_nothing(
    make_batch, worker_client
):
    make_batch("pairwise", items=gold_items(1))
    task = worker_client.get(reverse("task-next")).json()
    assert set(task) == {"assignment_id", "expires_at", "reward_msat", "bonus", "task"}
    assert "gold" not in task["task"]
    # an answer claiming to be the gold changes nothing: only the ranking counts
    response = worker_client.post(
        reverse("assignment-submit", args=[task["assignment_id"]]),
        {"ranking": ["b", "a"], "gold": ["b", "a"], "gold_correct": True},
        format="json",
    )
    assert response.status_code == 201
    assert Rating.objects.get().gold_correct is False


def test_gold_items_are_spread_through_the_batch(make_batch):
    batch = make_batch("pairwise", items=gold_items(3) + plain_items(9))
    positions = [i.position for i in batch.items.filter(gold__isnull=False)]
    assert positions == [2, 6, 10]


def test_unpaid_gold_costs_nothing_and_looks_like_any_task(make_batch, worker):
    batch = make_batch(
        "pairwise",
        items=gold_items(1) + plain_items(1),
        reward_msat=4_000,
        quality={"pay_gold": False, "gold_overlap": 5},
    )
    assert batch.cost_msat == 4_000 * 1  # only the plain item's one slot is reserved
    paid = {}
    for _ in range(2):
        assignment = assignment_services.next_assignment_for(worker=worker)
        assert task_payload(assignment=assignment, worker=worker)["reward_msat"] == 4_000
        rating = rating_services.submit_rating(
            worker=worker, assignment_id=assignment.id, ranking=["a", "b"]
        )
        paid[rating.item.gold is not None] = rating.reward_msat
    assert paid == {True: 0, False: 4_000}


def test_a_trusted_worker_answers_a_few_gold_items_and_leaves_the_rest_to_new_workers(
    make_batch, make_worker
):
    """Gold slots are few, and a new worker's held pay waits on them."""
    make_batch("pairwise", items=gold_items(8) + plain_items(8), overlap=2)
    trusted, new = make_worker(), make_worker(on_probation=True)
    trusted_gold = [answer(trusted, lambda a: "a").item.gold is not None for _ in range(13)]
    assert sum(trusted_gold) == trust.TRUSTED_GOLD_PER_BATCH
    assert answer(trusted, lambda a: "a") is None  # the other gold items are not for it
    new_gold = [answer(new, lambda a: "a").item.gold is not None for _ in range(16)]
    assert sum(new_gold) == 8


def test_an_honest_workers_ups_and_downs_are_not_an_accuracy_drop():
    steady = ([True, True, False] * 14)[:40]  # right two times in three, all along
    assert not any(trust.accuracy_dropped(steady[:n]) for n in range(len(steady) + 1))
    unlucky = [True] * 14 + [False] * 2 + [True, False] * 5  # a bad run, then 50%
    assert not trust.accuracy_dropped(unlucky)
    careless = [True] * 20 + [False] * 8 + [True] * 2  # sure, then wrong nearly always
    assert trust.accuracy_dropped(careless)
