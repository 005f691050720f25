"""Batches reserve their cost, approved ratings pay workers, held ratings wait as pending
money until they are reviewed, and closing a batch gives what is left back to its requester.

Every state comes from the service that causes it (submitting, reviewing, completing); the
balances are read as the worker and the requester see them."""

from datetime import timedelta

from django.urls import reverse
from django.utils import timezone

from labeling.models import Batch, Rating
from labeling.quality import trust
from labeling.services import assignments as assignment_services
from labeling.services import batches as batch_services
from labeling.services import ratings as rating_services
from labeling.services import review as review_services
from payouts import ledger
from payouts.selectors import requester_balances, worker_balances
from payouts.services import rating_money as money_services
from tests.conftest import client_for

BATCH = {
    "name": "Tiny",
    "task_type": "pairwise",
    "instructions": "Pick one.",
    "reward_msat": 2_000,
    "overlap": 2,
    "items": [
        {"prompt": f"Q{i}", "responses": [{"id": "a", "text": "A"}, {"id": "b", "text": "B"}]}
        for i in range(3)
    ],
}  # costs 2_000 * 2 * 3 = 12_000 msat
MANUAL = {"review_mode": "manual"}  # every rating is held until the requester decides


def rate_one(worker) -> dict:
    client = client_for(worker.user)
    task = client.get(reverse("task-next")).json()
    ids = [r["id"] for r in task["task"]["responses"]]
    response = client.post(
        reverse("assignment-submit", args=[task["assignment_id"]]), {"ranking": ids}, format="json"
    )
    assert response.status_code == 201
    return response.json()


def reserved_msat(batch) -> int:
    return ledger.balance_msat(ledger.batch_reserved(batch.id))


def test_a_batch_the_balance_does_not_cover_is_refused_with_402(make_requester, fund_requester):
    poor = make_requester()
    fund_requester(poor, 11_999)
    response = client_for(poor.user).post(reverse("batch-create"), BATCH, format="json")
    assert response.status_code == 402
    assert Batch.objects.count() == 0
    assert ledger.balance_msat(ledger.requester_available(poor.id)) == 11_999


def test_creating_a_batch_reserves_its_cost(make_requester, fund_requester):
    owner = make_requester()
    fund_requester(owner, 20_000)
    client = client_for(owner.user)
    response = client.post(reverse("batch-create"), BATCH, format="json")
    assert response.status_code == 201
    assert response.json()["cost_msat"] == 12_000
    assert client.get(reverse("requester")).json() == {
        "balance_msat": 8_000,
        "reserved_msat": 12_000,
        "spent_msat": 0,
    }


def test_an_approved_rating_pays_the_worker_from_the_reservation(make_batch, requester, worker):
    batch = make_batch("pairwise", reward_msat=5_000)
    body = rate_one(worker)
    assert body["balance_msat"] == 5_000
    assert worker_balances(worker=worker) == {
        "available_msat": 5_000,
        "held_msat": 0,
        "pending_msat": 0,
    }
    assert reserved_msat(batch) == batch.cost_msat - 5_000
    assert client_for(requester.user).get(reverse("requester")).json()["spent_msat"] == 5_000
    me = client_for(worker.user).get(reverse("me")).json()
    assert me["balance_msat"] == 5_000


def test_a_held_rating_waits_as_pending_then_approval_makes_it_available(
    make_batch, requester, worker
):
    batch = make_batch("pairwise", reward_msat=5_000, quality=MANUAL)
    assert rate_one(worker)["status"] == "pending_review"
    assert worker_balances(worker=worker)["pending_msat"] == 5_000
    assert reserved_msat(batch) == batch.cost_msat - 5_000
    assert requester_balances(requester=requester)["spent_msat"] == 0

    review_services.review_ratings(
        requester=requester, rating_ids=[Rating.objects.get().id], approve=True
    )
    assert worker_balances(worker=worker) == {
        "available_msat": 5_000,
        "held_msat": 0,
        "pending_msat": 0,
    }
    assert reserved_msat(batch) == batch.cost_msat - 5_000
    assert client_for(requester.user).get(reverse("requester")).json()["spent_msat"] == 5_000


def test_a_held_rating_rejected_goes_back_to_the_batch_reservation(make_batch, requester, worker):
    batch = make_batch("pairwise", reward_msat=5_000, quality=MANUAL)
    rate_one(worker)
    before = requester_balances(requester=requester)
    review_services.review_ratings(
        requester=requester, rating_ids=[Rating.objects.get().id], approve=False, reason="Off."
    )
    assert worker_balances(worker=worker)["pending_msat"] == 0
    assert worker_balances(worker=worker)["available_msat"] == 0
    # Its slot reopens for another worker, so the reward waits in the reservation again.
    assert reserved_msat(batch) == batch.cost_msat
    cost_msat = batch.cost_msat
    assert requester_balances(requester=requester) == before | {"reserved_msat": cost_msat}


def test_ratings_rejected_by_the_quality_review_go_back_to_the_reservation(make_batch, worker):
    items = [
        {"prompt": f"q{i}", "responses": [{"id": "a", "text": "A"}, {"id": "b", "text": "B"}]}
        for i in range(trust.STRAIGHT_LINING_WINDOW + 2)
    ]
    batch = make_batch("pairwise", items=items, reward_msat=1_000, quality=MANUAL)
    held = trust.STRAIGHT_LINING_WINDOW - 1
    for _ in range(held):  # always the top card: straight-lining
        assignment = assignment_services.next_assignment_for(worker=worker)
        rating_services.submit_rating(
            worker=worker, assignment_id=assignment.id, ranking=assignment.order
        )
    assert worker_balances(worker=worker)["pending_msat"] == held * 1_000
    assignment = assignment_services.next_assignment_for(worker=worker)
    rating = rating_services.submit_rating(
        worker=worker, assignment_id=assignment.id, ranking=assignment.order
    )  # the last of the window closes the worker in its own transaction
    assert rating.status == "rejected"
    assert Rating.objects.filter(worker=worker, status="rejected").count() == held + 1
    assert worker_balances(worker=worker) == {
        "available_msat": 0,
        "held_msat": 0,
        "pending_msat": 0,
    }
    assert reserved_msat(batch) == batch.cost_msat


def test_a_held_rating_approved_when_its_wait_is_over_pays_from_pending(make_batch, worker):
    waits_an_hour = {"review_mode": "auto_after", "review_after_hours": 1}
    batch = make_batch("pairwise", reward_msat=5_000, quality=waits_an_hour)
    rate_one(worker)
    assert worker_balances(worker=worker)["pending_msat"] == 5_000
    assert review_services.approve_overdue(now=timezone.now() + timedelta(hours=2)) == 1
    assert worker_balances(worker=worker)["available_msat"] == 5_000
    assert worker_balances(worker=worker)["pending_msat"] == 0
    assert reserved_msat(batch) == batch.cost_msat - 5_000


def test_cancelling_a_batch_returns_what_is_left_of_its_reservation_once(
    make_batch, requester, worker
):
    batch = make_batch("pairwise", reward_msat=5_000)  # 5 items: 25_000 reserved
    rate_one(worker)
    before = ledger.balance_msat(ledger.requester_available(requester.id))
    assert batch_services.cancel_batch(batch=batch)
    assert not batch_services.cancel_batch(batch=batch)  # cancelled once: nothing more moves
    assert ledger.balance_msat(ledger.requester_available(requester.id)) == before + 20_000
    assert reserved_msat(batch) == 0
    assert money_services.release_batch(batch=batch) == 0


def test_a_held_rating_rejected_after_its_batch_was_cancelled_goes_to_the_requester(
    make_batch, requester, worker
):
    batch = make_batch("pairwise", reward_msat=5_000, quality=MANUAL)  # 25_000 reserved
    rate_one(worker)
    before = ledger.balance_msat(ledger.requester_available(requester.id))
    batch_services.cancel_batch(batch=batch)
    # The held 5_000 is the worker's pending money, not the reservation's: it stays there.
    assert ledger.balance_msat(ledger.requester_available(requester.id)) == before + 20_000
    assert worker_balances(worker=worker)["pending_msat"] == 5_000
    review_services.review_ratings(
        requester=requester, rating_ids=[Rating.objects.get().id], approve=False, reason="Off."
    )
    # A closed batch has no slot to reopen: the reward goes straight back to the requester.
    assert ledger.balance_msat(ledger.requester_available(requester.id)) == before + 25_000
    assert reserved_msat(batch) == 0
    assert worker_balances(worker=worker)["pending_msat"] == 0


def test_completing_a_batch_releases_its_unused_bonus_to_the_requester(
    make_batch, requester, worker
):
    batch = make_batch(
        "pairwise",
        items=BATCH["items"][:1],
        reward_msat=10_000,
        quality={"bonus_percent": 20, "bonus_trust": 0.8},
    )
    assert batch.cost_msat == 12_000  # reserved at the highest pay
    assert rate_one(worker)["balance_msat"] == 10_000  # a newcomer earns no bonus
    before = ledger.balance_msat(ledger.requester_available(requester.id))
    assert batch_services.complete_finished_batches() == 1
    assert ledger.balance_msat(ledger.requester_available(requester.id)) == before + 2_000
    assert reserved_msat(batch) == 0
    assert requester_balances(requester=requester)["spent_msat"] == 10_000


def test_a_free_batch_reserves_nothing(make_batch, worker):
    make_batch("pairwise", reward_msat=0)
    assert rate_one(worker)["balance_msat"] == 0


def test_requester_endpoint_is_for_requesters_only(worker_client, db):
    assert worker_client.get(reverse("requester")).status_code == 403
