"""50 calls at once on one L402 credit (PostgreSQL decides): no overdraft, every call either
charged or refused with a fresh challenge, nothing left held, the ledger balanced."""

import json

import pytest
from django.test import Client

from payouts import ledger
from serving import accounts
from serving.models import L402Token, ServedCall
from serving.services import settling
from tests.conftest import needs_postgres
from tests.payouts.test_concurrency import run_all
from tests.serving.conftest import buy_credit, chat_body


@needs_postgres
@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_50_concurrent_calls_never_overdraw_one_credit(echo_model, settings):
    settings.SERVING_RATE_LIMIT_CHALLENGES = ""
    header = buy_credit(Client(), chat_body(), query="?credit_msat=1000")
    body = json.dumps(chat_body(max_tokens=3))  # holds 59 msat, charged 35

    def call():
        response = Client().post(
            "/v1/chat/completions", body, content_type="application/json", HTTP_AUTHORIZATION=header
        )
        return response.status_code

    statuses = run_all([call] * 50)
    assert settling.wait_settled()
    assert set(statuses) <= {200, 402}
    served = statuses.count(200)
    assert 1_000 // 59 <= served <= 1_000 // 35
    token = L402Token.objects.get(bolt11__isnull=False, paid_at__isnull=False)
    assert token.held_msat == 0 and token.spent_msat == served * 35
    left = ledger.balance_msat(accounts.l402_credit(token.id))
    assert left == 1_000 - served * 35 and left >= 0
    assert ServedCall.objects.filter(status="charged").count() == served
    assert not ServedCall.objects.filter(status="reserved").exists()
