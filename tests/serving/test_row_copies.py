"""A web process answers a paid L402 call from its copies of the model and token rows
(serving.services.rowcache); the hold checks the model's copy in SQL, so a model that
changed since it was copied is never called or charged by the copy."""

import json

import pytest
from django.db import connection
from django.test import Client

from serving.models import L402Token, ServedCall, ServedModel
from serving.services import engines, publishing, rowcache
from tests.processes import free_port
from tests.serving.conftest import buy_credit, chat_body, engine_process

pytestmark = [
    pytest.mark.skipif(connection.vendor != "postgresql", reason="the hold checks copies there"),
    pytest.mark.usefixtures("settle_inline"),
    pytest.mark.django_db(transaction=True),
]


def call(client: Client, header: str, **extra: object) -> object:
    return client.post(
        "/v1/chat/completions",
        json.dumps(chat_body(max_tokens=2, **extra)),
        content_type="application/json",
        HTTP_AUTHORIZATION=header,
    )


def test_later_calls_are_answered_from_the_copies(echo_model):
    client = Client()
    header = buy_credit(client, chat_body())
    assert call(client, header).status_code == 200  # credits the token, copies both rows
    token = L402Token.objects.get()
    assert rowcache.lookup("echo", token.token_id) is not None
    assert call(client, header).status_code == 200
    assert ServedCall.objects.filter(status="charged").count() == 2


def test_an_unpublished_model_is_not_served_from_a_copy(echo_model, requester):
    client = Client()
    header = buy_credit(client, chat_body())
    assert call(client, header).status_code == 200
    publishing.unpublish_model(user=requester.user, served_model_id=echo_model.id)
    response = call(client, header)
    assert response.status_code == 404
    assert ServedCall.objects.count() == 1
    assert L402Token.objects.get().held_msat == 0


def test_a_moved_engine_is_called_where_it_is_now(echo_model):
    client = Client()
    header = buy_credit(client, chat_body())
    assert call(client, header).status_code == 200
    # Nothing listens there: the copy's engine (still up) must not be the one called.
    engines.set_engine_url(served_model_id=echo_model.id, url=f"http://127.0.0.1:{free_port()}")
    assert call(client, header).status_code == 502
    assert ServedCall.objects.filter(status="failed").count() == 1
    token = L402Token.objects.get()
    assert token.held_msat == 0 and ServedCall.objects.filter(status="charged").count() == 1


def test_a_changed_price_is_charged_from_the_next_call(echo_model):
    client = Client()
    header = buy_credit(client, chat_body())
    assert call(client, header).status_code == 200
    first = ServedCall.objects.get()
    ServedModel.objects.filter(id=echo_model.id).update(
        price_msat_per_1k_output=echo_model.price_msat_per_1k_output * 2
    )
    assert call(client, header).status_code == 200
    second = ServedCall.objects.exclude(id=first.id).get()
    assert second.completion_tokens == first.completion_tokens
    assert second.charged_msat > first.charged_msat


def test_a_spent_credit_answered_from_copies_gets_a_fresh_challenge(echo_model):
    client = Client()
    header = buy_credit(client, chat_body(), query="?credit_msat=1000")
    statuses = [call(client, header).status_code for _ in range(40)]
    assert statuses[0] == 200 and statuses[-1] == 402
    assert set(statuses) == {200, 402}
    token = L402Token.objects.order_by("id").first()  # a 402 mints a fresh one
    assert token.held_msat == 0 and token.spent_msat <= token.amount_msat


def test_a_call_refused_on_a_copy_is_asked_again_on_the_current_row(publish, echo_engine):
    model = publish("echo")  # no engine yet: the call is refused before its hold
    client = Client()
    header = buy_credit(client, chat_body())
    assert call(client, header).status_code == 502
    engines.set_engine_url(served_model_id=model.id, url=echo_engine)
    assert call(client, header).status_code == 200  # not refused again from the copy
    assert call(client, header).status_code == 200
    assert ServedCall.objects.filter(status="charged").count() == 2


def test_an_engine_failing_after_a_checked_hold_is_not_called_twice(publish):
    client = Client()
    with engine_process("--engine", "echo", "--name", "echo") as url:
        publish("echo", engine_url=url)
        header = buy_credit(client, chat_body())
        assert call(client, header).status_code == 200
    assert call(client, header).status_code == 502  # the engine is gone; the copy is current
    assert ServedCall.objects.filter(status="failed").count() == 1
    assert L402Token.objects.get().held_msat == 0
