from django.urls import reverse

from labeling.models import Assignment, Item


def test_worker_gets_a_task_with_its_responses(make_batch, worker_client):
    batch = make_batch("pairwise")
    response = worker_client.get(reverse("task-next"))
    assert response.status_code == 200
    body = response.json()
    assert body["reward_msat"] == 5_000
    assert body["task"]["type"] == "pairwise"
    assert body["task"]["instructions"] == batch.instructions
    assert sorted(r["id"] for r in body["task"]["responses"]) == ["a", "b"]
    assert Assignment.objects.get(id=body["assignment_id"]).status == "open"


def test_asking_again_returns_the_same_open_assignment(make_batch, worker_client):
    make_batch("pairwise")
    first = worker_client.get(reverse("task-next")).json()
    second = worker_client.get(reverse("task-next")).json()
    assert first == second
    assert Assignment.objects.count() == 1


def test_no_task_gives_204(db, worker_client):
    assert worker_client.get(reverse("task-next")).status_code == 204


def test_filled_item_is_not_handed_out(make_batch, make_worker, django_assert_max_num_queries):
    from tests.conftest import client_for

    make_batch(
        "pairwise",
        items=[{"prompt": "p", "responses": [{"id": "a", "text": "A"}, {"id": "b", "text": "B"}]}],
        overlap=1,
    )
    first = client_for(make_worker().user)
    assert first.get(reverse("task-next")).status_code == 200
    second = client_for(make_worker().user)
    assert second.get(reverse("task-next")).status_code == 204
    assert Item.objects.get().slots_left == 0
