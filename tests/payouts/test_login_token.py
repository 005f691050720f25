"""The poll hands the API token once, and only to the client that asked for the k1."""

import pytest
from coincurve import PrivateKey
from django.test import Client
from django.urls import reverse

from payouts.models import LoginChallenge


def sign(client, k1):
    key = PrivateKey()
    params = {
        "tag": "login",
        "k1": k1,
        "sig": key.sign(bytes.fromhex(k1), hasher=None).hex(),
        "key": key.public_key.format().hex(),
    }
    assert client.get(reverse("lnurl-auth-callback"), params).json() == {"status": "OK"}


@pytest.fixture
def offer(client, db):
    return client.post(reverse("lnurl-auth")).json()


def poll(client, k1, **params):
    return client.get(reverse("lnurl-auth-poll", args=[k1]), params)


def test_the_offer_carries_a_poll_key_stored_only_as_its_hash(offer):
    challenge = LoginChallenge.objects.get(k1=offer["k1"])
    assert len(offer["poll_key"]) >= 40
    assert offer["poll_key"] not in challenge.poll_key_hash
    assert len(challenge.poll_key_hash) == 64
    assert challenge.session_key


def test_the_token_is_handed_out_once_then_410(client, offer):
    sign(Client(), offer["k1"])
    first = poll(client, offer["k1"])
    assert first.status_code == 200 and first.json()["token"]
    assert poll(client, offer["k1"]).status_code == 410
    assert poll(Client(), offer["k1"]).status_code == 410


def test_another_client_gets_404_pending_or_signed(client, offer):
    stranger = Client()
    assert poll(stranger, offer["k1"]).status_code == 404
    assert poll(stranger, offer["k1"], poll_key="wrong").status_code == 404
    sign(stranger, offer["k1"])
    assert poll(stranger, offer["k1"]).status_code == 404
    assert poll(stranger, offer["k1"], poll_key="wrong").status_code == 404
    # the asking browser still gets its token
    assert poll(client, offer["k1"]).status_code == 200


def test_an_api_client_polls_with_its_poll_key(db):
    api = Client()
    offer = api.post(reverse("lnurl-auth")).json()
    elsewhere = Client()  # no cookie of the session that asked: the key is enough
    assert poll(elsewhere, offer["k1"], poll_key=offer["poll_key"]).status_code == 202
    sign(Client(), offer["k1"])
    done = poll(elsewhere, offer["k1"], poll_key=offer["poll_key"])
    assert done.status_code == 200 and done.json()["status"] == "ok"
    assert poll(elsewhere, offer["k1"], poll_key=offer["poll_key"]).status_code == 410
    assert poll(api, offer["k1"]).status_code == 410


def test_the_login_page_binds_its_challenge_to_the_browser(client, db):
    assert client.get(reverse("login")).status_code == 200
    challenge = LoginChallenge.objects.get()
    assert challenge.session_key == client.session.session_key
    sign(Client(), challenge.k1)
    assert poll(Client(), challenge.k1).status_code == 404
    assert poll(client, challenge.k1).status_code == 200
    assert client.get(reverse("me")).status_code == 200


def test_expired_signed_challenge_is_404(client, offer):
    sign(Client(), offer["k1"])
    LoginChallenge.objects.update(expires_at="2000-01-01T00:00:00Z")
    assert poll(client, offer["k1"]).status_code == 404
