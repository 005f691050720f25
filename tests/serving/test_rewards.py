"""POST /v1/rewards scores responses with a served reward model, priced per response."""

import json

from payouts import ledger
from serving.models import ServedCall
from tests.serving.conftest import buy_credit
from tests.serving.test_bearer_calls import bearer


def test_scores_are_returned_in_order_and_charged_per_response(
    publish, echo_engine, make_requester, fund_requester
):
    publish("scorer", engine_url=echo_engine, kind="rm")
    payer = make_requester("payer")
    fund_requester(payer, 100_000)
    body = {"model": "scorer", "prompt": "sky blue why", "responses": ["why sky blue", "no"]}
    response = bearer(payer.user).post("/v1/rewards", body, format="json")
    assert response.status_code == 200, response.content
    scores = response.json()["scores"]
    assert len(scores) == 2 and scores[0] > scores[1]
    assert response.json()["usage"]["responses"] == 2
    assert ServedCall.objects.get().charged_msat == 4_000
    assert ledger.balance_msat(ledger.requester_available(payer.id)) == 96_000


def test_rewards_are_paid_by_l402_too(publish, echo_engine, client):
    publish("scorer", engine_url=echo_engine, kind="rm")
    body = {"model": "scorer", "prompt": "p", "responses": ["a"]}
    header = buy_credit(client, body, path="/v1/rewards")
    response = client.post(
        "/v1/rewards", json.dumps(body), content_type="application/json", HTTP_AUTHORIZATION=header
    )
    assert response.status_code == 200
    assert client.get("/v1/credit", HTTP_AUTHORIZATION=header).json()["spent_msat"] == 2_000


def test_bad_reward_bodies_are_400(publish, echo_engine, client, settings):
    publish("scorer", engine_url=echo_engine, kind="rm")
    settings.SERVING_MAX_PROMPT_BYTES = 100
    for body in (
        {"model": "scorer", "prompt": "p", "responses": []},
        {"model": "scorer", "prompt": 1, "responses": ["a"]},
        {"model": "scorer", "prompt": "p", "responses": [1]},
        {"model": "scorer", "prompt": "p", "responses": ["x" * 101]},
        {"model": "scorer", "prompt": "p", "responses": ["a"] * 65},
    ):
        response = client.post("/v1/rewards", json.dumps(body), content_type="application/json")
        assert response.status_code == 400, body
    assert not ServedCall.objects.exists()
