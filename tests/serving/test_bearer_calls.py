"""A requester calls a served model with its API token: the call holds its worst case, is
charged what it used (to the owner, less the platform fee) and releases the rest."""

import json

from django.urls import reverse

from payouts import ledger
from serving.models import ServedCall
from tests.conftest import client_for
from tests.serving.conftest import chat_body


def bearer(user):
    client = client_for(user)
    token = client._credentials["HTTP_AUTHORIZATION"].split()[1]
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {token}")
    return client


def test_a_chat_call_is_charged_what_it_used_and_the_owner_earns(
    echo_model, requester, make_requester, fund_requester, settings
):
    settings.SERVING_PLATFORM_FEE_PPM = 100_000  # 10 %
    payer = make_requester("payer")
    fund_requester(payer, 1_000_000)
    owner_before = ledger.balance_msat(ledger.requester_available(requester.id))
    response = bearer(payer.user).post(
        "/v1/chat/completions", chat_body(max_tokens=10), format="json"
    )
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["choices"][0]["message"]["content"] == "one two three"
    assert body["usage"] == {"prompt_tokens": 5, "completion_tokens": 3, "total_tokens": 8}
    charged = (5 * 1_000 + 3 * 10_000 + 999) // 1000  # 35 msat
    assert ledger.balance_msat(ledger.requester_available(payer.id)) == 1_000_000 - charged
    fee = charged * 100_000 // 1_000_000
    owner_now = ledger.balance_msat(ledger.requester_available(requester.id))
    assert owner_now - owner_before == charged - fee
    call = ServedCall.objects.get()
    assert (call.status, call.charged_msat, call.fee_msat) == ("charged", charged, fee)


def test_a_streamed_call_ends_with_usage_then_done(echo_model, make_requester, fund_requester):
    payer = make_requester("payer")
    fund_requester(payer, 1_000_000)
    response = bearer(payer.user).post(
        "/v1/chat/completions", chat_body(stream=True, n=2), format="json"
    )
    assert response.status_code == 200
    assert response["Content-Type"] == "text/event-stream"
    lines = [line for line in b"".join(response.streaming_content).decode().split("\n\n") if line]
    assert lines[-1] == "data: [DONE]"
    chunks = [json.loads(line.removeprefix("data: ")) for line in lines[:-1]]
    assert chunks[-1]["usage"]["completion_tokens"] == 6 and chunks[-1]["choices"] == []
    text = {0: "", 1: ""}
    for chunk in chunks[:-1]:
        for choice in chunk["choices"]:
            text[choice["index"]] += choice["delta"].get("content", "")
    assert text == {0: "one two three", 1: "one two three"}


def test_a_balance_below_the_worst_case_answers_402_and_holds_nothing(
    echo_model, make_requester, fund_requester
):
    payer = make_requester("payer")
    fund_requester(payer, 1_000)
    # 64 tokens at 10 000 msat per 1k: 640 msat of output alone, times n=2 > 1000 msat.
    response = bearer(payer.user).post("/v1/chat/completions", chat_body(n=2), format="json")
    assert response.status_code == 402
    assert response.json()["error"]["code"] == "insufficient_balance"
    assert "worst case" in response.json()["detail"]
    assert ledger.balance_msat(ledger.requester_available(payer.id)) == 1_000
    assert not ServedCall.objects.exists()


def test_models_are_listed_with_prices(echo_model, client):
    response = client.get(reverse("v1-models"))
    assert response.json()["data"] == [
        {
            "id": "echo",
            "object": "model",
            "created": int(echo_model.created_at.timestamp()),
            "owned_by": "acme",
            "kind": "policy",
            "max_tokens": 64,
            "price_msat_per_1k_input": 1_000,
            "price_msat_per_1k_output": 10_000,
        }
    ]


def test_an_upstream_named_by_its_v1_base_url_is_streamed_through(
    publish, echo_engine, make_requester, fund_requester
):
    publish("vllm-like", engine_url=f"{echo_engine}/v1")  # as vLLM's base URL is written
    payer = make_requester("payer")
    fund_requester(payer, 1_000_000)
    response = bearer(payer.user).post(
        "/v1/chat/completions", chat_body("vllm-like", stream=True), format="json"
    )
    assert b"[DONE]" in b"".join(response.streaming_content)
