"""A metered chat call runs a fixed number of SQL statements, whoever pays and however many
calls came before (no N+1): the model and credential lookups, the hold, and the charge."""

import json

import pytest
from django.db import connection
from django.test import Client

from tests.serving.conftest import buy_credit, chat_body
from tests.serving.test_bearer_calls import bearer

pytestmark = pytest.mark.usefixtures("settle_inline")  # the settle counted with the call

# The model with the credential's token (one SELECT); the hold and the call's row; the
# settle. On PostgreSQL the model and the paid token read by an earlier call are the
# process's copies, which the hold checks (no SELECT); the hold with the call's row is one
# statement, atomic by itself, and so is the settle: the call settled, the token's counters,
# the transfer, its entries and the credit, owner and fees balances. Elsewhere the SELECT,
# then the hold is BEGIN, its conditional UPDATE, the row, COMMIT, and the settle BEGIN, the
# call, the token, the transfer, its entries, three balances, COMMIT.
L402_CALL_QUERIES = {"postgresql": 2}.get(connection.vendor, 14)
# The model; the API token with its user; BEGIN, the call's row, the hold transfer (row,
# entries, two balances), COMMIT; the settle (on PostgreSQL one statement; elsewhere BEGIN,
# the call settled, the transfer, its entries, four balances, COMMIT).
BEARER_CALL_QUERIES = {"postgresql": 10}.get(connection.vendor, 18)


@pytest.mark.parametrize("earlier", [1, 10])
@pytest.mark.django_db(transaction=True)
def test_an_l402_call_runs_a_fixed_number_of_queries(
    earlier, echo_model, django_assert_num_queries
):
    client = Client()
    header = buy_credit(client, chat_body())
    body = json.dumps(chat_body(max_tokens=2))
    for _ in range(earlier):
        client.post(
            "/v1/chat/completions", body, content_type="application/json", HTTP_AUTHORIZATION=header
        )
    with django_assert_num_queries(L402_CALL_QUERIES):
        response = client.post(
            "/v1/chat/completions", body, content_type="application/json", HTTP_AUTHORIZATION=header
        )
    assert response.status_code == 200


@pytest.mark.parametrize("earlier", [1, 10])
@pytest.mark.django_db(transaction=True)
def test_a_bearer_call_runs_a_fixed_number_of_queries(
    earlier, echo_model, make_requester, fund_requester, django_assert_num_queries
):
    payer = make_requester("payer")
    fund_requester(payer, 1_000_000)
    client = bearer(payer.user)
    body = chat_body(max_tokens=2)
    for _ in range(earlier):
        client.post("/v1/chat/completions", body, format="json")
    with django_assert_num_queries(BEARER_CALL_QUERIES):
        response = client.post("/v1/chat/completions", body, format="json")
    assert response.status_code == 200
