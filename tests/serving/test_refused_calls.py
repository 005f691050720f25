"""Bad input and abuse on /v1: each answers a clear 4xx in OpenAI's shape before any engine
work, holds nothing and charges nothing; an engine that dies or hangs mid-answer charges
only what was delivered."""

import json

import pytest

from payouts import ledger
from serving.models import L402Token, ServedCall
from serving.services import settling
from tests.marketplace.test_hostile_input import BODIES
from tests.serving.conftest import chat_body, engine_process
from tests.serving.test_bearer_calls import bearer

FUNDS_MSAT = 1_000_000


@pytest.fixture
def payer(make_requester, fund_requester):
    payer = make_requester("payer")
    fund_requester(payer, FUNDS_MSAT)
    return payer


def post(client, body, path="/v1/chat/completions"):
    data = body if isinstance(body, str | bytes) else json.dumps(body)
    return client.post(path, data, content_type="application/json")


BAD_BODIES = [
    "not json",
    "[]",
    {"model": "echo"},
    {"model": "echo", "messages": []},
    {"model": "echo", "messages": [{"role": "robot", "content": "x"}]},
    {"model": "echo", "messages": [{"role": "user", "content": 7}]},
    {"model": "echo", "messages": [{"role": "user", "content": [{"type": "image_url"}]}]},
    chat_body(max_tokens=0),
    chat_body(max_tokens="5"),
    chat_body(max_tokens=65),  # the model's limit is 64
    chat_body(max_tokens=True),
    chat_body(temperature=3),
    chat_body(top_p=-0.1),
    chat_body(n=0),
    chat_body(n=9),
    chat_body(stop=["a", "b", "c", "d", "e"]),
    chat_body(stop=[""]),
    chat_body(stream="yes"),
    {"model": 5, "messages": [{"role": "user", "content": "x"}]},
]


@pytest.mark.parametrize("body", BAD_BODIES)
def test_a_bad_chat_body_is_a_400_that_holds_nothing(echo_model, payer, body):
    response = post(bearer(payer.user), body)
    assert response.status_code == 400, response.content
    error = response.json()["error"]
    assert error["type"] == "invalid_request_error" and error["message"]
    assert ledger.balance_msat(ledger.requester_available(payer.id)) == FUNDS_MSAT
    assert not ServedCall.objects.exists()


def test_a_huge_prompt_is_refused_before_any_engine_work(publish, payer, settings):
    # No engine at all behind the model: a refusal that reached one would be a 502.
    publish("echo", engine_url="http://127.0.0.1:9")
    settings.SERVING_MAX_PROMPT_BYTES = 1_000
    response = post(bearer(payer.user), chat_body(text="é" * 501))
    assert response.status_code == 400
    assert "the limit is 1000" in response.json()["error"]["message"]
    assert not ServedCall.objects.exists()


def test_an_unknown_or_unpublished_model_is_a_404(echo_model, payer, requester):
    client = bearer(payer.user)
    assert post(client, chat_body("nope")).json()["error"]["code"] == "model_not_found"
    from serving.services import publishing

    publishing.unpublish_model(user=requester.user, served_model_id=echo_model.id)
    assert post(client, chat_body()).status_code == 404


def test_a_reward_model_is_not_a_chat_model(publish, echo_engine, payer):
    publish("scorer", engine_url=echo_engine, kind="rm")
    response = post(bearer(payer.user), chat_body("scorer"))
    assert response.status_code == 400 and "/v1/rewards" in response.json()["error"]["message"]


def test_bad_credentials_are_401_and_a_worker_token_403(echo_model, client, worker):
    for header in ("Bearer nope", "Token abc", "L402", "Bearer a b"):
        response = client.post(
            "/v1/chat/completions",
            json.dumps(chat_body()),
            content_type="application/json",
            HTTP_AUTHORIZATION=header,
        )
        assert response.status_code == 401, header
    response = post(bearer(worker.user), chat_body())
    assert response.status_code == 403


def test_other_methods_are_405(client):
    assert client.get("/v1/chat/completions").status_code == 405
    assert client.delete("/v1/models").status_code == 405


def test_an_engine_that_is_down_is_a_502_and_charges_nothing(publish, payer):
    publish("echo", engine_url="http://127.0.0.1:9")
    response = post(bearer(payer.user), chat_body())
    assert response.status_code == 502
    assert ServedCall.objects.get().status == "failed"
    assert ledger.balance_msat(ledger.requester_available(payer.id)) == FUNDS_MSAT


def streamed(client, body):
    response = post(client, {**body, "stream": True})
    assert response.status_code == 200
    text = b"".join(response.streaming_content).decode()
    return [json.loads(line[6:]) for line in text.split("\n\n") if line.startswith("data: {")]


def test_an_engine_that_dies_mid_stream_charges_only_what_was_delivered(publish, payer):
    with engine_process("--engine", "echo", "--exit-after", "2") as url:
        model = publish("echo", engine_url=url)
        chunks = streamed(bearer(payer.user), chat_body(text="a b c d e f"))
    delivered = [c for c in chunks if c["choices"] and c["choices"][0]["delta"].get("content")]
    assert len(delivered) == 2
    assert chunks[-1]["usage"]["completion_tokens"] == 2
    call = ServedCall.objects.get()
    price = (2 * model.price_msat_per_1k_output + 999) // 1000
    assert (call.status, call.completion_tokens, call.charged_msat) == ("charged", 2, price)
    assert ledger.balance_msat(ledger.requester_available(payer.id)) == FUNDS_MSAT - price


def test_a_whole_answer_the_engine_breaks_off_is_a_502_and_charges_nothing(publish, payer):
    """Without `stream`, the engine is asked for the whole answer at once: one that does not
    arrive whole was not delivered."""
    with engine_process("--engine", "echo", "--exit-after", "2") as url:
        publish("echo", engine_url=url)
        response = post(bearer(payer.user), chat_body(text="a b c d e f"))
    assert response.status_code == 502
    assert ServedCall.objects.get().status == "failed"
    assert ledger.balance_msat(ledger.requester_available(payer.id)) == FUNDS_MSAT


def test_an_engine_that_hangs_mid_stream_times_out_and_charges_what_was_delivered(
    publish, payer, settings
):
    settings.SERVING_ENGINE_TIMEOUT_SECONDS = 1
    with engine_process("--engine", "echo", "--stall-after", "1") as url:
        publish("echo", engine_url=url)
        chunks = streamed(bearer(payer.user), chat_body(text="a b c"))
        assert chunks[-1]["usage"]["completion_tokens"] == 1
        assert ServedCall.objects.get().completion_tokens == 1


def test_an_engine_that_hangs_before_answering_is_a_504(publish, payer, settings):
    settings.SERVING_ENGINE_TIMEOUT_SECONDS = 1
    with engine_process("--engine", "echo", "--stall-after", "0") as url:
        publish("echo", engine_url=url)
        response = post(bearer(payer.user), chat_body())
    assert response.status_code == 504
    assert ServedCall.objects.get().status == "failed"
    assert ledger.balance_msat(ledger.requester_available(payer.id)) == FUNDS_MSAT


def test_refusals_before_any_view_answer_in_openai_shape(client, settings):
    assert client.get("/v1/nothing-here").json()["error"]["message"] == "Not found."
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 100
    response = client.post("/v1/chat/completions", "x" * 200, content_type="application/json")
    assert response.status_code == 413 and "too large" in response.json()["error"]["message"]
    nul = client.get("/v1/models?q=%00")
    assert nul.status_code == 400 and nul.json()["error"]["type"] == "invalid_request_error"


@pytest.mark.parametrize("path", ["/v1/chat/completions", "/v1/rewards", "/v1/credit"])
def test_hostile_bodies_get_a_4xx_in_openai_shape_and_change_nothing(
    path, echo_model, payer, client
):
    for who, api in (("anonymous", client), ("requester", bearer(payer.user))):
        for name, (body, content_type) in BODIES.items():
            response = api.generic("POST", path, body, content_type=content_type)
            assert 400 <= response.status_code < 500, f"{who} {name}: {response.content[:200]}"
            assert "message" in response.json()["error"], f"{who} {name}"
    assert not ServedCall.objects.exists() and not L402Token.objects.exists()
    assert ledger.balance_msat(ledger.requester_available(payer.id)) == FUNDS_MSAT


# Closing the response ends the request (Django closes its database connection then): no
# test transaction around it.
@pytest.mark.django_db(transaction=True)
def test_a_client_that_leaves_mid_stream_is_charged_what_it_was_sent(publish, payer):
    with engine_process("--engine", "echo") as url:
        model = publish("echo", engine_url=url)
        response = post(bearer(payer.user), chat_body(text="a b c d e f", stream=True))
        stream = iter(response.streaming_content)
        first = next(stream)
        assert b'"content":"a"' in first
        response.close()  # the client hung up after one token
    call = ServedCall.objects.get()
    assert call.status == "charged" and call.completion_tokens == 1
    price = (model.price_msat_per_1k_output + 999) // 1000
    assert call.charged_msat == price
    assert ledger.balance_msat(ledger.requester_available(payer.id)) == FUNDS_MSAT - price


@pytest.mark.django_db(transaction=True)
def test_a_stream_the_client_never_read_is_released_with_nothing_charged(echo_model, payer):
    response = post(bearer(payer.user), chat_body(stream=True))
    assert response.status_code == 200
    response.close()  # the client hung up before the first chunk
    assert settling.wait_settled()
    call = ServedCall.objects.get()
    assert (call.status, call.charged_msat) == ("failed", 0)
    assert ledger.balance_msat(ledger.requester_available(payer.id)) == FUNDS_MSAT
