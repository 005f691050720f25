"""A requester approves or rejects the held ratings of its own batches, all or nothing."""

import pytest
from django.urls import reverse

from core.errors import DomainError
from labeling.models import Rating, Worker
from labeling.services import review as review_services
from tests.conftest import client_for
from tests.labeling.quality_helpers import answer, plain_items


def test_approving_pays_the_worker_and_rejecting_with_a_reason_reopens_the_slot(
    make_batch, make_worker, requester_client
):
    batch = make_batch("pairwise", quality={"review_mode": "manual"}, overlap=2)
    first, second = make_worker(), make_worker()
    kept = answer(first, lambda a: "a")
    dropped = answer(second, lambda a: "b")
    assert {kept.status, dropped.status} == {"pending_review"}
    queue = requester_client.get(
        reverse("batch-ratings", args=[batch.id]), {"status": "pending_review"}
    ).json()["results"]
    assert {r["rating_id"] for r in queue} == {kept.id, dropped.id}
    assert all("worker_trust" in r and "flags" in r for r in queue)

    url = reverse("ratings-review")
    no_reason = requester_client.post(
        url, {"rating_ids": [dropped.id], "decision": "reject"}, format="json"
    )
    assert no_reason.status_code == 400
    ok = requester_client.post(url, {"rating_ids": [kept.id], "decision": "approve"}, format="json")
    assert ok.json() == {"reviewed": 1, "decision": "approve"}
    rejected = requester_client.post(
        url,
        {
            "rating_ids": [dropped.id],
            "decision": "reject",
            "reason": "Answer contradicts the prompt.",
        },
        format="json",
    )
    assert rejected.status_code == 200
    kept.refresh_from_db()
    dropped.refresh_from_db()
    assert kept.status == "approved" and dropped.status == "rejected"
    assert dropped.reason == "Answer contradicts the prompt."
    assert client_for(first.user).get(reverse("me")).json()["balance_msat"] == 5_000
    assert client_for(second.user).get(reverse("me")).json()["balance_msat"] == 0
    # the rejected rating's slot is open again for another worker
    assert batch.items.get(id=dropped.item_id).slots_left == 1
    # decided ratings cannot be decided again
    again = requester_client.post(
        url,
        {"rating_ids": [kept.id], "decision": "reject", "reason": "changed my mind"},
        format="json",
    )
    assert again.status_code == 409
    assert Rating.objects.get(id=kept.id).status == "approved"


def test_nobody_reviews_ratings_of_someone_elses_batch(
    make_batch, make_worker, make_requester, worker_client
):
    make_batch("pairwise", quality={"review_mode": "manual"})
    rating = answer(make_worker(), lambda a: "a")
    other = client_for(make_requester().user)
    body = {"rating_ids": [rating.id], "decision": "approve"}
    assert other.post(reverse("ratings-review"), body, format="json").status_code == 404
    assert worker_client.post(reverse("ratings-review"), body, format="json").status_code == 403
    assert other.get(reverse("batch-ratings", args=[rating.batch_id])).status_code == 404
    rating.refresh_from_db()
    assert rating.status == "pending_review"


def test_a_mix_of_own_and_foreign_ratings_is_refused_whole(
    make_batch, make_worker, make_requester, requester_client
):
    make_batch("pairwise", items=plain_items(1), quality={"review_mode": "manual"})
    mine = answer(make_worker(), lambda a: "a")
    other_owner = make_requester()
    make_batch("pairwise", owner=other_owner, quality={"review_mode": "manual"})
    foreign = answer(make_worker(), lambda a: "a")
    assert foreign.batch.requester == other_owner
    response = requester_client.post(
        reverse("ratings-review"),
        {"rating_ids": [mine.id, foreign.id], "decision": "approve"},
        format="json",
    )
    assert response.status_code == 404
    assert Rating.objects.filter(status="approved").count() == 0


@pytest.mark.parametrize(
    "body",
    [
        {"rating_ids": [], "decision": "approve"},
        {"rating_ids": ["x"], "decision": "approve"},
        {"rating_ids": [1], "decision": "maybe"},
        {"decision": "approve"},
    ],
)
def test_malformed_reviews_are_400(requester_client, body):
    assert requester_client.post(reverse("ratings-review"), body, format="json").status_code == 400


def test_a_requester_cannot_review_its_own_ratings(make_batch, requester):
    make_batch("pairwise", items=plain_items(1), quality={"review_mode": "manual"})
    own = Worker.objects.create(user=requester.user, linking_key="02" + "ab" * 32)
    rating = answer(own, lambda a: "a")
    with pytest.raises(DomainError, match="own ratings"):
        review_services.review_ratings(requester=requester, rating_ids=[rating.id], approve=True)
    rating.refresh_from_db()
    assert rating.status == "pending_review"
