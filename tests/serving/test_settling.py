"""A call is answered first and charged after, on the process's settling thread: the
client's next call does not wait for the ledger, the hold covers the call until the charge
commits, and each call is charged exactly once (PostgreSQL: SQLite settles inline)."""

import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager

import pytest
from django.test import Client

from payouts import ledger
from serving import accounts
from serving.models import L402Token, ServedCall
from serving.services import settling
from tests.conftest import needs_postgres
from tests.serving.conftest import buy_credit, chat_body

pytestmark = [needs_postgres, pytest.mark.postgres, pytest.mark.django_db(transaction=True)]

BODY = json.dumps(chat_body(max_tokens=3))  # holds 59 msat, charged 35
CREDIT_MSAT = 1_000


@contextmanager
def settling_thread_busy() -> Iterator[None]:
    """Keeps the settling thread on a task of its own until the block ends."""
    gate = threading.Event()
    settling.settle_soon(lambda: gate.wait(10) or None)
    try:
        yield
    finally:
        gate.set()


def call(client: Client, header: str):
    return client.post(
        "/v1/chat/completions", BODY, content_type="application/json", HTTP_AUTHORIZATION=header
    )


def test_the_answer_goes_first_the_hold_covers_it_and_the_charge_lands_once(echo_model):
    client = Client()
    header = buy_credit(client, chat_body(), query=f"?credit_msat={CREDIT_MSAT}")
    with settling_thread_busy():
        response = call(client, header)
        assert response.status_code == 200
        assert response.json()["usage"]["completion_tokens"] == 3
        assert ServedCall.objects.get().status == "reserved"
        # Until the charge commits the credit shows the hold: less, never more.
        shown = client.get("/v1/credit", HTTP_AUTHORIZATION=header).json()
        assert shown["credit_msat"] == CREDIT_MSAT - 59
    assert settling.wait_settled()
    response.close()  # a second close, as some servers do: nothing more is charged
    assert settling.wait_settled()
    served = ServedCall.objects.get()
    assert (served.status, served.charged_msat) == ("charged", 35)
    token = L402Token.objects.get(paid_at__isnull=False)
    assert (token.held_msat, token.spent_msat) == (0, 35)
    assert ledger.balance_msat(accounts.l402_credit(token.id)) == CREDIT_MSAT - 35
    shown = client.get("/v1/credit", HTTP_AUTHORIZATION=header).json()
    assert shown["credit_msat"] == CREDIT_MSAT - 35


def test_a_full_queue_settles_on_the_request_thread(echo_model, monkeypatch):
    client = Client()
    header = buy_credit(client, chat_body(), query=f"?credit_msat={CREDIT_MSAT}")
    monkeypatch.setattr(settling, "MAX_PENDING", 1)
    with settling_thread_busy():  # the one place taken
        assert call(client, header).status_code == 200
        assert ServedCall.objects.get().status == "charged"


def test_a_process_busy_with_other_calls_settles_on_the_request_thread(echo_model):
    client = Client()
    header = buy_credit(client, chat_body(), query=f"?credit_msat={CREDIT_MSAT}")
    with settling.answering():  # another call being answered meanwhile
        assert call(client, header).status_code == 200
        assert ServedCall.objects.get().status == "charged"


def test_a_failed_settle_is_logged_and_leaves_the_call_held(echo_model, monkeypatch, caplog):
    client = Client()
    header = buy_credit(client, chat_body(), query=f"?credit_msat={CREDIT_MSAT}")

    def broken(**kwargs):
        raise RuntimeError("the database went away")

    monkeypatch.setattr("serving.services.metering.settle_call", broken)
    assert call(client, header).status_code == 200
    assert settling.wait_settled()
    assert "settling a served call failed" in caplog.text
    assert ServedCall.objects.get().status == "reserved"  # release_stale_calls frees it
    assert L402Token.objects.get(paid_at__isnull=False).held_msat == 59


def test_a_streamed_answer_reaches_done_before_its_charge(echo_model):
    client = Client()
    header = buy_credit(client, chat_body(), query=f"?credit_msat={CREDIT_MSAT}")
    body = json.dumps(chat_body(max_tokens=3, stream=True))
    with settling_thread_busy():
        response = client.post(
            "/v1/chat/completions", body, content_type="application/json", HTTP_AUTHORIZATION=header
        )
        events = b"".join(response.streaming_content).decode()
        assert events.rstrip().endswith("data: [DONE]")
        assert '"completion_tokens":3' in events
        assert ServedCall.objects.get().status == "reserved"
    assert settling.wait_settled()
    assert ServedCall.objects.get().charged_msat == 35
    token = L402Token.objects.get(paid_at__isnull=False)
    assert (token.held_msat, token.spent_msat) == (0, 35)
