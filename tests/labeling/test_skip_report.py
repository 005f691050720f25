from django.urls import reverse

from labeling.models import Assignment, Item, Report
from tests.conftest import client_for

ONE_ITEM = [{"prompt": "p", "responses": [{"id": "a", "text": "A"}, {"id": "b", "text": "B"}]}]


def test_skip_frees_the_slot_and_the_worker_never_sees_the_item_again(
    make_batch, worker_client, make_worker
):
    make_batch("pairwise", items=ONE_ITEM)
    task = worker_client.get(reverse("task-next")).json()
    response = worker_client.post(reverse("assignment-skip", args=[task["assignment_id"]]))
    assert response.status_code == 204
    assert Item.objects.get().slots_left == 1
    assert worker_client.get(reverse("task-next")).status_code == 204
    other = client_for(make_worker().user)
    assert other.get(reverse("task-next")).status_code == 200


def test_report_flags_the_item_and_enough_reports_stop_serving_it(
    make_batch, make_worker, settings
):
    settings.REPORTS_TO_BLOCK_ITEM = 2
    make_batch("pairwise", items=ONE_ITEM, overlap=5)
    for count in (1, 2):
        client = client_for(make_worker().user)
        task = client.get(reverse("task-next")).json()
        response = client.post(
            reverse("assignment-report", args=[task["assignment_id"]]),
            {"reason": "pii", "note": "has a phone number"},
            format="json",
        )
        assert response.status_code == 201
        assert Report.objects.count() == count
    assert Item.objects.get().blocked
    assert client_for(make_worker().user).get(reverse("task-next")).status_code == 204


def test_bad_report_reason_is_400_and_changes_nothing(make_batch, worker_client):
    make_batch("pairwise", items=ONE_ITEM)
    task = worker_client.get(reverse("task-next")).json()
    url = reverse("assignment-report", args=[task["assignment_id"]])
    assert worker_client.post(url, {"reason": "boring"}, format="json").status_code == 400
    assert not Report.objects.exists()
    assert Assignment.objects.get().status == "open"


def test_skip_of_a_submitted_assignment_is_409(make_batch, worker_client):
    make_batch("pairwise", items=ONE_ITEM)
    task = worker_client.get(reverse("task-next")).json()
    worker_client.post(
        reverse("assignment-submit", args=[task["assignment_id"]]),
        {"ranking": ["a", "b"]},
        format="json",
    )
    response = worker_client.post(reverse("assignment-skip", args=[task["assignment_id"]]))
    assert response.status_code == 409


def test_expired_leases_are_freed_when_nothing_else_is_left(make_batch, make_worker):
    make_batch("pairwise", items=ONE_ITEM)
    first = client_for(make_worker().user)
    assert first.get(reverse("task-next")).status_code == 200
    Assignment.objects.update(expires_at="2000-01-01T00:00:00Z")
    second = client_for(make_worker().user)
    assert second.get(reverse("task-next")).status_code == 200
    assert Assignment.objects.filter(status="expired").count() == 1
