"""Hot endpoints keep a fixed number of SQL statements, whatever the data size.

Runs outside a wrapping test transaction so the count is what production runs
(no SAVEPOINT statements from the test harness).
"""

import pytest
from django.urls import reverse

from tests.conftest import client_for

NEXT_TASK_MAX_QUERIES = 8
SUBMIT_MAX_QUERIES = 12


@pytest.mark.django_db(transaction=True)
def test_next_task_and_submit_stay_within_their_query_budgets(
    make_batch, make_worker, django_assert_max_num_queries
):
    make_batch("ranking", overlap=3)
    make_batch("pairwise", overlap=3)
    for _ in range(3):  # some history, so the budget holds beyond the first task
        client = client_for(make_worker().user)
        task = client.get(reverse("task-next")).json()
        ids = [r["id"] for r in task["task"]["responses"]]
        client.post(
            reverse("assignment-submit", args=[task["assignment_id"]]),
            {"ranking": ids},
            format="json",
        )
    client = client_for(make_worker().user)
    client.get(reverse("me"))  # warm up anything cached per process
    with django_assert_max_num_queries(NEXT_TASK_MAX_QUERIES):
        task = client.get(reverse("task-next")).json()
    with django_assert_max_num_queries(NEXT_TASK_MAX_QUERIES):
        assert client.get(reverse("task-next")).json() == task
    ids = [r["id"] for r in task["task"]["responses"]]
    with django_assert_max_num_queries(SUBMIT_MAX_QUERIES):
        response = client.post(
            reverse("assignment-submit", args=[task["assignment_id"]]),
            {"ranking": ids, "rationale": "ok"},
            format="json",
        )
    assert response.status_code == 201
