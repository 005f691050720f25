"""Paying a rating keeps the submit endpoint within its SQL budget (labeling's ~6
statements + the ledger's 4 + the 1-query balance provider)."""

import pytest
from django.urls import reverse

from tests.conftest import client_for

SUBMIT_MAX_QUERIES = 12
BALANCE_PROVIDER_QUERIES = 1


@pytest.mark.django_db(transaction=True)
def test_submit_with_its_ledger_transfer_stays_within_12_statements(
    make_batch, make_worker, django_assert_max_num_queries
):
    make_batch("pairwise", overlap=2, reward_msat=3_000)
    for _ in range(2):
        client = client_for(make_worker().user)
        task = client.get(reverse("task-next")).json()
        ids = [r["id"] for r in task["task"]["responses"]]
        with django_assert_max_num_queries(SUBMIT_MAX_QUERIES):
            response = client.post(
                reverse("assignment-submit", args=[task["assignment_id"]]),
                {"ranking": ids},
                format="json",
            )
        assert response.status_code == 201
        assert response.json()["balance_msat"] == 3_000


def test_the_balance_provider_is_one_query(worker, django_assert_num_queries):
    from labeling.balances import worker_balance_msat

    with django_assert_num_queries(BALANCE_PROVIDER_QUERIES):
        assert worker_balance_msat(worker) == 0
