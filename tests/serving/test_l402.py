"""L402: a call without credentials gets a 402 challenge (macaroon + invoice, also as LSAT);
paying the invoice and retrying with `L402 <macaroon>:<preimage>` draws on the credit; a
spent credit answers a fresh challenge; every forgery answers 401 and charges nothing."""

import base64
import hashlib
import secrets
from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone
from pymacaroons import Macaroon

from payouts import ledger
from payouts.models import FakeNodeInvoice
from serving import accounts
from serving.models import L402Token, ServedCall
from tests.serving.conftest import buy_credit, chat_body


def macaroon_and_preimage(header: str) -> tuple[Macaroon, str]:
    value, _, preimage = header.removeprefix("L402 ").rpartition(":")
    return Macaroon.deserialize(value), preimage


def with_macaroon(macaroon: Macaroon, preimage: str) -> str:
    raw = base64.urlsafe_b64decode(macaroon.serialize() + "==")
    return f"L402 {base64.b64encode(raw).decode()}:{preimage}"


def test_the_challenge_names_macaroon_and_invoice_under_both_schemes(echo_model, client):
    response = client.post("/v1/chat/completions", chat_body(), content_type="application/json")
    assert response.status_code == 402
    challenge = response["WWW-Authenticate"]
    assert challenge.startswith('L402 macaroon="') and ', LSAT macaroon="' in challenge
    body = response.json()
    assert body["amount_msat"] == 100_000 and body["invoice"].startswith("lnbcrt")
    assert f'invoice="{body["invoice"]}"' in challenge and body["detail"]
    assert not ServedCall.objects.exists()


def test_a_paid_token_draws_its_credit_down(echo_model, client):
    header = buy_credit(client, chat_body())
    response = client.post(
        "/v1/chat/completions",
        chat_body(max_tokens=5),
        content_type="application/json",
        HTTP_AUTHORIZATION=header,
    )
    assert response.status_code == 200, response.content
    charged = ServedCall.objects.get().charged_msat
    assert charged == (5 * 1_000 + 3 * 10_000 + 999) // 1000
    credit = client.get("/v1/credit", HTTP_AUTHORIZATION=header).json()
    assert credit["credit_msat"] == 100_000 - charged and credit["spent_msat"] == charged
    lsat = header.replace("L402 ", "LSAT ", 1)
    again = client.post(
        "/v1/chat/completions",
        chat_body(),
        content_type="application/json",
        HTTP_AUTHORIZATION=lsat,
    )
    assert again.status_code == 200


def test_credit_msat_buys_more_up_to_the_maximum(echo_model, client, settings):
    ok = client.post(
        "/v1/chat/completions?credit_msat=250000", chat_body(), content_type="application/json"
    )
    assert ok.json()["amount_msat"] == 250_000
    too_much = f"?credit_msat={settings.SERVING_L402_MAX_CREDIT_MSAT + 1}"
    refused = client.post(
        "/v1/chat/completions" + too_much, chat_body(), content_type="application/json"
    )
    assert refused.status_code == 400 and "credit_msat" in refused.json()["error"]["message"]
    odd = client.post(
        "/v1/chat/completions?credit_msat=1500", chat_body(), content_type="application/json"
    )
    assert odd.status_code == 400  # whole sats: not every node's invoices carry msat
    assert L402Token.objects.count() == 1


def test_a_spent_credit_answers_a_fresh_challenge(echo_model, client):
    header = buy_credit(client, chat_body(), query="?credit_msat=1000")
    response = client.post(
        "/v1/chat/completions",
        chat_body(n=2),
        content_type="application/json",
        HTTP_AUTHORIZATION=header,
    )
    assert response.status_code == 402  # 2 x 64 tokens of output cost more than 1000 msat
    assert response.json()["invoice"] and L402Token.objects.count() == 2
    assert not ServedCall.objects.exists()


def call_with(client, header, model="echo"):
    return client.post(
        "/v1/chat/completions",
        chat_body(model, max_tokens=3),
        content_type="application/json",
        HTTP_AUTHORIZATION=header,
    )


@pytest.fixture
def paid(echo_model, client):
    return buy_credit(client, chat_body())


def refused(client, header, model="echo"):
    response = call_with(client, header, model)
    assert response.status_code == 401, response.content
    assert response.json()["error"]["type"] == "authentication_error"
    return response.json()["error"]["message"]


def test_a_wrong_preimage_is_refused(paid, client):
    macaroon, _ = macaroon_and_preimage(paid)
    refused(client, with_macaroon(macaroon, secrets.token_hex(32)))
    refused(client, with_macaroon(macaroon, "zz"))
    assert not ServedCall.objects.exists()


def test_a_truncated_or_garbled_macaroon_is_refused(paid, client):
    value, _, preimage = paid.rpartition(":")
    refused(client, f"{value[:-12]}:{preimage}")
    refused(client, f"L402 !!!notbase64:{preimage}")
    refused(client, f"L402 {value[5:]}")  # no preimage at all
    refused(client, "L402 ")
    refused(client, "Basic dXNlcjpwYXNz")


def test_a_macaroon_resigned_with_another_key_is_refused(paid, client):
    macaroon, preimage = macaroon_and_preimage(paid)
    forged = Macaroon(
        location=macaroon.location,
        identifier=macaroon.identifier_bytes,
        key=secrets.token_bytes(32),
        version=macaroon.version,
    )
    for caveat in macaroon.caveats:
        forged.add_first_party_caveat(caveat.caveat_id)
    assert "signature" in refused(client, with_macaroon(forged, preimage))


def test_a_removed_or_edited_caveat_breaks_the_signature(paid, client):
    macaroon, preimage = macaroon_and_preimage(paid)
    token = L402Token.objects.get()
    stripped = Macaroon(
        location=macaroon.location,
        identifier=macaroon.identifier_bytes,
        key=bytes(token.root_key),
        version=macaroon.version,
    )
    stripped.add_first_party_caveat(macaroon.caveats[0].caveat_id)  # without expiry and cap
    assert "required caveat" in refused(client, with_macaroon(stripped, preimage))
    edited = Macaroon.deserialize(macaroon.serialize())
    edited.caveats[2]._caveat_id = b"spend_cap_msat=999999999"
    assert "signature" in refused(client, with_macaroon(edited, preimage))


def test_a_client_may_narrow_a_caveat_but_never_widen_it(paid, client):
    macaroon, preimage = macaroon_and_preimage(paid)
    wider = Macaroon.deserialize(macaroon.serialize())
    wider.add_first_party_caveat("spend_cap_msat=999999999")
    assert "raises the spending cap" in refused(client, with_macaroon(wider, preimage))
    later = Macaroon.deserialize(macaroon.serialize())
    later.add_first_party_caveat(f"expires_at={int(timezone.now().timestamp()) + 10**9}")
    refused(client, with_macaroon(later, preimage))
    more = Macaroon.deserialize(macaroon.serialize())
    more.add_first_party_caveat("services=echo:0,other:0")
    refused(client, with_macaroon(more, preimage))
    unknown = Macaroon.deserialize(macaroon.serialize())
    unknown.add_first_party_caveat("admin=true")
    refused(client, with_macaroon(unknown, preimage))

    narrow = Macaroon.deserialize(macaroon.serialize())
    narrow.add_first_party_caveat("spend_cap_msat=60")  # one call holds 59, charges 35
    header = with_macaroon(narrow, preimage)
    assert call_with(client, header).status_code == 200
    assert call_with(client, header).status_code == 402  # the narrowed cap is reached
    assert call_with(client, paid).status_code == 200  # the token itself still has credit


def test_an_expired_token_is_refused(paid, client):
    L402Token.objects.update(expires_at=timezone.now() - timedelta(seconds=1))
    assert "expired" in refused(client, paid)
    macaroon, preimage = macaroon_and_preimage(paid)
    L402Token.objects.update(expires_at=timezone.now() + timedelta(days=1))
    early = Macaroon.deserialize(macaroon.serialize())
    early.add_first_party_caveat(f"expires_at={int(timezone.now().timestamp()) - 1}")
    assert "expired" in refused(client, with_macaroon(early, preimage))


def test_a_token_for_another_model_is_refused(paid, client, publish, echo_engine):
    publish("other", engine_url=echo_engine)
    assert "another model" in refused(client, paid, model="other")


def test_an_unpaid_token_with_a_made_up_preimage_credits_nothing(echo_model, client):
    challenge = client.post("/v1/chat/completions", chat_body(), content_type="application/json")
    macaroon = challenge["WWW-Authenticate"].split('macaroon="')[1].split('"')[0]
    refused(client, f"L402 {macaroon}:{secrets.token_hex(32)}")
    token = L402Token.objects.get()
    assert token.paid_at is None
    assert ledger.balance_msat(accounts.l402_credit(token.id)) == 0
    assert hashlib.sha256(b"").hexdigest() != token.payment_hash


def test_the_credit_endpoint_needs_a_valid_token(paid, client):
    assert client.get("/v1/credit").status_code == 401
    macaroon, _ = macaroon_and_preimage(paid)
    wrong = with_macaroon(macaroon, secrets.token_hex(32))
    assert client.get("/v1/credit", HTTP_AUTHORIZATION=wrong).status_code == 401
    assert client.post("/v1/credit", HTTP_AUTHORIZATION=paid).status_code == 405


def test_the_demo_wallet_is_the_fake_nodes_only(echo_model, client, settings):
    challenge = client.post("/v1/chat/completions", chat_body(), content_type="application/json")
    settings.LIGHTNING_BACKEND = "lnbits"
    response = client.post(
        reverse("fake-pay"),
        {"bolt11": challenge.json()["invoice"]},
        content_type="application/json",
    )
    assert response.status_code == 404
    assert (
        FakeNodeInvoice.objects.get(payment_hash=L402Token.objects.get().payment_hash).paid_at
        is None
    )


def test_challenges_are_rate_limited_per_address(echo_model, client, settings):
    settings.SERVING_RATE_LIMIT_CHALLENGES = "2/min"
    statuses = [
        client.post(
            "/v1/chat/completions", chat_body(), content_type="application/json"
        ).status_code
        for _ in range(3)
    ]
    assert statuses == [402, 402, 429]
    assert L402Token.objects.count() == 2
