"""The ratings list and a rating's page show the task's texts in a fixed number of queries."""

from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from tests.labeling.quality_helpers import answer, plain_items


def queries_for(client: Client, url: str) -> int:
    with CaptureQueriesContext(connection) as captured:
        page = client.get(url)
    assert page.status_code == 200
    return len(captured)


def test_ratings_list_costs_the_same_queries_for_1_and_20_rows(make_batch, make_worker, requester):
    make_batch("ranking", items=plain_items(20), quality={"review_mode": "manual"})
    client = Client()
    client.force_login(requester.user)
    url = reverse("admin:labeling_rating_changelist")
    worker = make_worker()
    answer(worker, lambda a: "b")
    client.get(url)  # warm up anything cached per process
    one = queries_for(client, url)
    for _ in range(19):
        answer(worker, lambda a: "b")
    page = client.get(url)
    assert page.content.decode().count('class="answer"') == 20
    assert "wrong" in page.content.decode()  # the texts, not the keys
    assert queries_for(client, url) == one


def test_rating_page_shows_prompt_and_texts(make_batch, make_worker, requester):
    make_batch("pairwise", items=plain_items(1))
    rating = answer(make_worker(), lambda a: "b")
    client = Client()
    client.force_login(requester.user)
    page = client.get(reverse("admin:labeling_rating_change", args=[rating.id])).content.decode()
    assert "plain 0" in page
    assert page.index("wrong") < page.index("right")  # the chosen answer first
