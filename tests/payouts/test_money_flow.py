"""Batches reserve their cost, approved ratings pay workers, rejections and cancellations
give the reservation back."""

from django.urls import reverse

from labeling import signals
from labeling.models import Batch, Rating
from labeling.services import batches as batch_services
from payouts import ledger
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


def rate_one(worker) -> dict:
    client = client_for(worker.user)
    task = client.get(reverse("task-next")).json()
    ids = [r["id"] for r in task["task"]["responses"]]
    response = client.post(
        reverse("assignment-submit", args=[task["assignment_id"]]), {"ranking": ids}, format="json"
    )
    assert response.status_code == 201
    return response.json()


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
    assert ledger.balance_msat(ledger.worker_available(worker.id)) == 5_000
    assert ledger.balance_msat(ledger.batch_reserved(batch.id)) == batch.cost_msat - 5_000
    assert client_for(requester.user).get(reverse("requester")).json()["spent_msat"] == 5_000
    me = client_for(worker.user).get(reverse("me")).json()
    assert me["balance_msat"] == 5_000


def test_cancelling_a_batch_returns_what_is_left_of_its_reservation_once(
    make_batch, requester, worker
):
    batch = make_batch("pairwise", reward_msat=5_000)  # 5 items: 25_000 reserved
    rate_one(worker)
    before = ledger.balance_msat(ledger.requester_available(requester.id))
    assert batch_services.cancel_batch(batch=batch)
    assert not batch_services.cancel_batch(batch=batch)  # a cancelled batch stays cancelled
    assert ledger.balance_msat(ledger.requester_available(requester.id)) == before + 20_000
    assert ledger.balance_msat(ledger.batch_reserved(batch.id)) == 0
    assert money_services.release_batch(batch=batch) == 0


def test_completing_a_batch_releases_what_is_left_and_a_late_rejection_goes_to_the_requester(
    make_batch, requester, worker
):
    batch = make_batch("pairwise", reward_msat=5_000)
    rate_one(worker)
    rating = Rating.objects.get()
    rating.id = 20_000  # a rating still held for review when the batch is completed
    signals.rating_held.send(sender=Rating, rating=rating)
    before = ledger.balance_msat(ledger.requester_available(requester.id))
    assert batch_services.complete_batch(batch=batch)
    assert ledger.balance_msat(ledger.requester_available(requester.id)) == before + 15_000
    signals.rating_rejected.send(sender=Rating, rating=rating)
    assert ledger.balance_msat(ledger.requester_available(requester.id)) == before + 20_000
    assert ledger.balance_msat(ledger.batch_reserved(batch.id)) == 0


def test_a_free_batch_reserves_nothing(make_batch, worker):
    make_batch("pairwise", reward_msat=0)
    assert rate_one(worker)["balance_msat"] == 0


def test_requester_endpoint_is_for_requesters_only(worker_client, db):
    assert worker_client.get(reverse("requester")).status_code == 403


def test_a_held_rating_waits_as_pending_then_approval_makes_it_available(
    make_batch, requester, worker
):
    batch = make_batch("pairwise", reward_msat=5_000)
    rate_one(worker)
    rating = Rating.objects.get()
    rating.id = 20_000  # a second rating, held for review
    signals.rating_held.send(sender=Rating, rating=rating)
    assert ledger.balance_msat(ledger.worker_pending(worker.id)) == 5_000
    assert ledger.balance_msat(ledger.batch_reserved(batch.id)) == batch.cost_msat - 10_000
    signals.rating_approved.send(sender=Rating, rating=rating, held=True)
    assert ledger.balance_msat(ledger.worker_pending(worker.id)) == 0
    assert ledger.balance_msat(ledger.worker_available(worker.id)) == 10_000
    assert client_for(requester.user).get(reverse("requester")).json()["spent_msat"] == 10_000


def test_a_held_rating_rejected_goes_back_to_the_batch_reservation(make_batch, worker):
    batch = make_batch("pairwise", reward_msat=5_000)
    rate_one(worker)
    rating = Rating.objects.get()
    rating.id = 20_000
    signals.rating_held.send(sender=Rating, rating=rating)
    signals.rating_rejected.send(sender=Rating, rating=rating)
    assert ledger.balance_msat(ledger.worker_pending(worker.id)) == 0
    assert ledger.balance_msat(ledger.batch_reserved(batch.id)) == batch.cost_msat - 5_000
