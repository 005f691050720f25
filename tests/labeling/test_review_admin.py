"""The requester's review screen and quality dashboard in the admin."""

import re

from django.contrib.admin.helpers import ACTION_CHECKBOX_NAME
from django.test import Client
from django.urls import reverse

from labeling import selectors
from labeling.models import Rating
from labeling.services import review as review_services
from tests.labeling.quality_helpers import answer, gold_items, plain_items


def admin_client(requester) -> Client:
    client = Client()
    client.force_login(requester.user)
    return client


def test_review_queue_approve_and_reject_with_reason(make_batch, make_worker, requester):
    make_batch("pairwise", items=plain_items(2), quality={"review_mode": "manual"})
    first = answer(make_worker(), lambda a: "a")
    second = answer(make_worker(), lambda a: "b")
    client = admin_client(requester)
    url = reverse("admin:labeling_rating_changelist")
    page = client.get(url, {"status__exact": "pending_review"})
    assert page.status_code == 200
    assert b"plain 0" in page.content and b"trust 0.60" in page.content

    client.post(url, {"action": "approve_selected", ACTION_CHECKBOX_NAME: [first.id]})
    confirm = client.post(url, {"action": "reject_selected", ACTION_CHECKBOX_NAME: [second.id]})
    assert confirm.status_code == 200 and b"reason" in confirm.content  # asks why first
    assert Rating.objects.get(id=second.id).status == "pending_review"
    client.post(
        url,
        {
            "action": "reject_selected",
            ACTION_CHECKBOX_NAME: [second.id],
            "reason": "Picked the wrong answer.",
        },
    )
    first.refresh_from_db()
    second.refresh_from_db()
    assert (first.status, second.status) == ("approved", "rejected")
    assert second.reason == "Picked the wrong answer."


def test_another_requester_cannot_review_or_see_the_dashboard(
    make_batch, make_worker, make_requester
):
    batch = make_batch("pairwise", items=plain_items(1), quality={"review_mode": "manual"})
    rating = answer(make_worker(), lambda a: "a")
    client = admin_client(make_requester())
    url = reverse("admin:labeling_rating_changelist")
    client.post(url, {"action": "approve_selected", ACTION_CHECKBOX_NAME: [rating.id]})
    assert Rating.objects.get(id=rating.id).status == "pending_review"
    dashboard = client.get(reverse("admin:labeling_batch_dashboard", args=[batch.id]))
    assert dashboard.status_code == 302


def test_dashboard_shows_gold_accuracy_and_closed_workers(make_batch, make_worker, requester):
    batch = make_batch(
        "pairwise", items=gold_items(9) + plain_items(2), quality={"gold_overlap": 2}
    )
    # New workers, so gold is served them whatever their count (trusted ones see a few).
    good, bad = make_worker(on_probation=True), make_worker(on_probation=True)
    for _ in range(9):
        answer(good, lambda a: "a")
        bad.refresh_from_db()
        answer(bad, lambda a: "b")
    review_services.review_worker(worker_id=good.id)
    review_services.review_worker(worker_id=bad.id)
    page = admin_client(requester).get(reverse("admin:labeling_batch_dashboard", args=[batch.id]))
    assert page.status_code == 200
    html = page.content.decode()
    assert "<svg" in html and "80-100%" in html
    assert "0/8" in html  # the bad worker was closed after 8 checks
    assert re.search(r"<td>([89])/\1</td>", html)  # the good one got every gold right
    bad.refresh_from_db()
    assert selectors.batch_closed_to(worker=bad, batch=batch)
