"""On PostgreSQL an L402 call's hold commits without waiting for its WAL flush; the settle,
which moves the money, keeps a synchronous commit (serving.sql.ASYNC_COMMIT)."""

import json

import pytest
from django.db import connection, transaction
from django.test import Client
from django.test.utils import CaptureQueriesContext

from serving.models import L402Token, ServedCall
from serving.services import metering
from tests.serving.conftest import buy_credit, chat_body

pytestmark = pytest.mark.skipif(
    connection.vendor != "postgresql", reason="asynchronous commit is PostgreSQL's"
)


def synchronous_commit() -> str:
    with connection.cursor() as cursor:
        cursor.execute("SHOW synchronous_commit")
        return cursor.fetchone()[0]


@pytest.mark.django_db(transaction=True)
@pytest.mark.usefixtures("settle_inline")
def test_the_hold_alone_commits_asynchronously_and_the_settle_waits(echo_model):
    client = Client()
    header = buy_credit(client, chat_body())

    def call() -> int:
        return client.post(
            "/v1/chat/completions",
            json.dumps(chat_body(max_tokens=2)),
            content_type="application/json",
            HTTP_AUTHORIZATION=header,
        ).status_code

    assert call() == 200  # the first call also records the credit as paid
    with CaptureQueriesContext(connection) as queries:
        assert call() == 200
    hold, settle = queries.captured_queries  # the model and token: the process's copies
    assert "set_config('synchronous_commit', 'off', true)" in hold["sql"]
    assert "synchronous_commit" not in settle["sql"]
    assert synchronous_commit() == "on"  # scoped to the hold's own transaction
    assert set(ServedCall.objects.values_list("status", flat=True)) == {"charged"}


@pytest.mark.django_db(transaction=True)
def test_a_hold_inside_a_transaction_leaves_its_commit_synchronous(echo_model):
    buy_credit(Client(), chat_body())
    token = L402Token.objects.get()
    L402Token.objects.filter(id=token.id).update(paid_at=token.created_at)
    payer = metering.Payer.of(token=token, spend_cap_msat=10**9)
    with transaction.atomic(), CaptureQueriesContext(connection) as queries:
        metering.reserve_call(served_model=echo_model, payer=payer, worst_msat=1_000)
        assert synchronous_commit() == "on"
    assert not any("set_config" in q["sql"] for q in queries.captured_queries)
    assert L402Token.objects.get().held_msat == 1_000
