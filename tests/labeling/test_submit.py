import pytest
from django.urls import reverse

from labeling.models import Assignment, Item, Rating
from labeling.services import batches as batch_services
from tests.conftest import client_for


def next_task(client):
    response = client.get(reverse("task-next"))
    assert response.status_code == 200
    return response.json()


def submit(client, assignment_id, body):
    return client.post(reverse("assignment-submit", args=[assignment_id]), body, format="json")


def test_pairwise_submit_records_an_approved_rating_and_pays(make_batch, worker_client, worker):
    make_batch("pairwise")
    task = next_task(worker_client)
    ids = [r["id"] for r in task["task"]["responses"]]
    response = submit(worker_client, task["assignment_id"], {"ranking": ids, "rationale": "clear"})
    assert response.status_code == 201
    body = response.json()
    assert body["status"] == "approved"
    assert body["reward_msat"] == 5_000
    assert body["balance_msat"] == 5_000
    rating = Rating.objects.get(id=body["rating_id"])
    assert rating.ranking == ids
    assert rating.rationale == "clear"
    assert rating.worker == worker
    assert rating.shown_at <= rating.created_at
    assert Assignment.objects.get(id=task["assignment_id"]).status == "submitted"


def test_ranking_and_likert_answers_are_stored(make_batch, worker_client):
    make_batch("ranking")
    task = next_task(worker_client)
    ids = [r["id"] for r in task["task"]["responses"]]
    assert submit(worker_client, task["assignment_id"], {"ranking": ids[::-1]}).status_code == 201
    assert Rating.objects.get().ranking == ids[::-1]

    Rating.objects.all().delete()
    Assignment.objects.all().delete()
    Item.objects.all().delete()
    make_batch("likert")
    task = next_task(worker_client)
    scores = {r["id"]: 7 - i for i, r in enumerate(task["task"]["responses"])}
    assert submit(worker_client, task["assignment_id"], {"scores": scores}).status_code == 201
    assert Rating.objects.get().scores == scores


def test_each_assignment_has_its_own_response_order(make_batch, make_worker):

    make_batch(
        "ranking",
        items=[
            {"prompt": "p", "responses": [{"id": str(i), "text": f"answer {i}"} for i in range(9)]}
        ],
        overlap=20,
    )
    orders = {
        tuple(r["id"] for r in next_task(client_for(make_worker().user))["task"]["responses"])
        for _ in range(12)
    }
    assert len(orders) > 1  # 12 draws of 9! orders: all equal only by a bug


@pytest.mark.parametrize(
    ("task_type", "body"),
    [
        ("pairwise", {}),
        ("pairwise", {"ranking": "a,b"}),
        ("pairwise", {"ranking": ["a"]}),
        ("pairwise", {"ranking": ["a", "a"]}),
        ("pairwise", {"ranking": ["a", "zzz"]}),
        ("pairwise", {"ranking": ["a", "b", "c"]}),
        ("pairwise", {"ranking": [1, 2]}),
        ("pairwise", {"scores": {"a": 1, "b": 2}}),
        ("ranking", {"ranking": ["x", "y"]}),
        ("likert", {"scores": {"p": 8, "q": 3}}),
        ("likert", {"scores": {"p": 0, "q": 3}}),
        ("likert", {"scores": {"p": 2.5, "q": 3}}),
        ("likert", {"scores": {"p": True, "q": 3}}),
        ("likert", {"scores": {"p": 3}}),
        ("likert", {"scores": {"p": 3, "q": 3, "r": 3}}),
        ("likert", {"scores": [3, 3]}),
        ("likert", {"ranking": ["p", "q"]}),
        ("pairwise", {"ranking": ["a", "b"], "rationale": "x" * 5001}),
    ],
)
def test_malformed_answers_get_400_and_change_nothing(make_batch, worker_client, task_type, body):
    make_batch(task_type)
    task = next_task(worker_client)
    response = submit(worker_client, task["assignment_id"], body)
    assert response.status_code == 400
    assert response.json()
    assert not Rating.objects.exists()
    assert Assignment.objects.get(id=task["assignment_id"]).status == "open"


def test_a_non_json_body_gets_400(make_batch, worker_client):
    make_batch("pairwise")
    task = next_task(worker_client)
    response = worker_client.post(
        reverse("assignment-submit", args=[task["assignment_id"]]),
        "{not json",
        content_type="application/json",
    )
    assert response.status_code == 400
    assert not Rating.objects.exists()


def test_a_next_flag_that_is_not_a_boolean_is_400_and_records_nothing(make_batch, worker_client):
    """Found by fuzzing: `next=maybe` used to be read as false, after the answer was saved."""
    make_batch("pairwise")
    task = next_task(worker_client)
    ids = [r["id"] for r in task["task"]["responses"]]
    url = reverse("assignment-submit", args=[task["assignment_id"]]) + "?next=maybe"
    response = worker_client.post(url, {"ranking": ids}, format="json")
    assert response.status_code == 400
    assert response.json() == {"next": ["Use true or false."]}
    assert not Rating.objects.exists()


def test_second_submit_is_409(make_batch, worker_client):
    make_batch("pairwise")
    task = next_task(worker_client)
    body = {"ranking": ["a", "b"]}
    assert submit(worker_client, task["assignment_id"], body).status_code == 201
    response = submit(worker_client, task["assignment_id"], body)
    assert response.status_code == 409
    assert Rating.objects.count() == 1


def test_someone_elses_or_unknown_assignment_is_404(make_batch, worker_client, make_worker):

    make_batch("pairwise")
    task = next_task(worker_client)
    other = client_for(make_worker().user)
    assert submit(other, task["assignment_id"], {"ranking": ["a", "b"]}).status_code == 404
    assert submit(other, 999_999, {"ranking": ["a", "b"]}).status_code == 404
    assert not Rating.objects.exists()


def test_expired_assignment_is_410_and_frees_the_slot(make_batch, worker_client, settings):
    make_batch(
        "pairwise",
        items=[{"prompt": "p", "responses": [{"id": "a", "text": "A"}, {"id": "b", "text": "B"}]}],
    )
    task = next_task(worker_client)
    assert Item.objects.get().slots_left == 0
    Assignment.objects.update(expires_at="2000-01-01T00:00:00Z")
    response = submit(worker_client, task["assignment_id"], {"ranking": ["a", "b"]})
    assert response.status_code == 410
    assert not Rating.objects.exists()
    assert Item.objects.get().slots_left == 1
    assert Assignment.objects.get().status == "expired"


def test_requests_without_a_worker_token_are_refused(make_batch, client, requester_client):
    make_batch("pairwise")
    # No credentials: DRF asks for them (TokenAuthentication is first, so 401, not 403).
    assert client.get(reverse("task-next")).status_code == 401
    assert requester_client.get(reverse("task-next")).status_code == 403
    bad = client.get(reverse("task-next"), HTTP_AUTHORIZATION="Token nope")
    assert bad.status_code == 401


def test_answers_for_a_cancelled_batch_are_refused_and_pay_nothing(make_batch, worker_client):
    batch = make_batch("pairwise")
    task = next_task(worker_client)
    batch_services.cancel_batch(batch=batch)
    response = submit(worker_client, task["assignment_id"], {"ranking": ["a", "b"]})
    assert response.status_code == 410
    assert not Rating.objects.exists()
    assert worker_client.get(reverse("task-next")).status_code == 204


def test_a_finished_batch_is_completed_and_its_leftover_released(
    make_batch, make_worker, requester_client
):

    batch = make_batch(
        "pairwise",
        items=[{"prompt": "q", "responses": [{"id": "a", "text": "A"}, {"id": "b", "text": "B"}]}],
        overlap=1,
    )
    assert batch_services.complete_finished_batches() == 0
    client = client_for(make_worker().user)
    task = next_task(client)
    assert batch_services.complete_finished_batches() == 0  # an assignment is still open
    submit(client, task["assignment_id"], {"ranking": ["a", "b"]})
    assert batch_services.complete_finished_batches() == 1
    batch.refresh_from_db()
    assert batch.status == "completed"


HUGE_ID = 2**70  # beyond any integer column


def test_an_assignment_id_too_large_for_the_database_is_404(worker_client):
    response = submit(worker_client, HUGE_ID, {"ranking": ["a", "b"]})
    assert response.status_code == 404


def test_a_batch_id_too_large_for_the_database_is_404(requester_client):
    assert requester_client.get(f"/api/v1/batches/{HUGE_ID}/").status_code == 404


def test_a_rating_id_too_large_for_the_database_is_a_malformed_review(requester_client):
    review = requester_client.post(
        "/api/v1/ratings/review/", {"rating_ids": [HUGE_ID], "decision": "approve"}, format="json"
    )
    assert review.status_code == 400


def test_submit_can_hand_out_the_next_task_in_the_same_round_trip(make_batch, worker_client):
    make_batch(
        "pairwise",
        items=[
            {"prompt": f"q{i}", "responses": [{"id": "a", "text": "A"}, {"id": "b", "text": "B"}]}
            for i in range(2)
        ],
    )
    first = next_task(worker_client)
    url = reverse("assignment-submit", args=[first["assignment_id"]]) + "?next=1"
    body = worker_client.post(url, {"ranking": ["a", "b"]}, format="json").json()
    assert body["status"] == "approved"
    following = body["next"]
    assert following["task"]["prompt"] == "q1"
    assert next_task(worker_client) == following  # the same open assignment
    last = worker_client.post(
        reverse("assignment-submit", args=[following["assignment_id"]]) + "?next=1",
        {"ranking": ["b", "a"]},
        format="json",
    ).json()
    assert last["next"] is None
    plain = worker_client.post(
        reverse("assignment-submit", args=[first["assignment_id"]]),
        {"ranking": ["a", "b"]},
        format="json",
    )
    assert plain.status_code == 409
