"""LNURL-auth (LUD-04): a wallet signs k1, the page's poll logs the browser in."""

from urllib.parse import parse_qs, urlparse

import lnurl
import pytest
from coincurve import PrivateKey
from django.urls import reverse

from labeling.models import Worker
from payouts.models import LoginChallenge


@pytest.fixture
def offer(client, db):
    response = client.post(reverse("lnurl-auth"))
    assert response.status_code == 201
    return response.json()


def signed(key, k1):
    return key.sign(bytes.fromhex(k1), hasher=None).hex(), key.public_key.format().hex()


def callback(client, k1, sig, key, **extra):
    params = {"tag": "login", "k1": k1, "sig": sig, "key": key} | extra
    return client.get(reverse("lnurl-auth-callback"), params).json()


def test_offer_carries_the_callback_as_lnurl(offer, settings):
    assert len(offer["k1"]) == 64
    assert offer["lnurl"].startswith("LNURL1") and offer["lnurl"] == offer["lnurl"].upper()
    url = lnurl.url_decode(offer["lnurl"])
    assert url == offer["url"]
    assert url.startswith(settings.PUBLIC_BASE_URL + "/api/v1/auth/lnurl/callback/")
    assert parse_qs(urlparse(url).query) == {
        "tag": ["login"],
        "k1": [offer["k1"]],
        "action": ["login"],
    }


def test_signed_k1_creates_the_worker_and_the_poll_logs_in(client, offer):
    key = PrivateKey()
    poll_url = reverse("lnurl-auth-poll", args=[offer["k1"]])
    assert client.get(poll_url).status_code == 202
    assert client.get(poll_url).json() == {"status": "pending"}
    sig, pub = signed(key, offer["k1"])
    assert callback(client, offer["k1"], sig, pub) == {"status": "OK"}
    worker = Worker.objects.get(linking_key=pub)
    body = client.get(poll_url).json()
    assert body["status"] == "ok"
    assert body["worker_id"] == worker.id
    # the browser session is logged in, and the token works for the API
    assert client.get(reverse("me")).json()["worker_id"] == worker.id
    from rest_framework.test import APIClient

    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Token {body['token']}")
    assert api.get(reverse("me")).json()["linking_key"] == pub


def test_second_login_with_the_same_key_finds_the_same_worker(client, db):
    key = PrivateKey()
    for _ in range(2):
        k1 = client.post(reverse("lnurl-auth")).json()["k1"]
        assert callback(client, k1, *signed(key, k1)) == {"status": "OK"}
    assert Worker.objects.count() == 1


def test_a_k1_works_once(client, offer):
    key = PrivateKey()
    sig, pub = signed(key, offer["k1"])
    assert callback(client, offer["k1"], sig, pub)["status"] == "OK"
    again = callback(client, offer["k1"], sig, pub)
    assert again["status"] == "ERROR" and "used" in again["reason"]
    other = PrivateKey()
    assert callback(client, offer["k1"], *signed(other, offer["k1"]))["status"] == "ERROR"
    assert Worker.objects.count() == 1


def test_expired_k1_is_refused(client, offer):
    LoginChallenge.objects.update(expires_at="2000-01-01T00:00:00Z")
    response = callback(client, offer["k1"], *signed(PrivateKey(), offer["k1"]))
    assert response["status"] == "ERROR" and "expired" in response["reason"]
    assert not Worker.objects.exists()
    assert client.get(reverse("lnurl-auth-poll", args=[offer["k1"]])).status_code == 404


@pytest.mark.parametrize(
    "tamper",
    [
        lambda k1, sig, key: (k1, sig[:-2] + ("00" if sig[-2:] != "00" else "01"), key),
        lambda k1, sig, key: (k1, "zz" + sig, key),
        lambda k1, sig, key: (k1, sig, PrivateKey().public_key.format().hex()),
        lambda k1, sig, key: (k1, sig, "04" + key[2:]),
        lambda k1, sig, key: (k1, sig, key[:-2]),
        lambda k1, sig, key: (k1, sig, "not-hex"),
        lambda k1, sig, key: ("ab" * 32, sig, key),
        lambda k1, sig, key: (k1[:10], sig, key),
        lambda k1, sig, key: (k1, "", key),
    ],
)
def test_bad_signatures_keys_and_k1s_are_lnurl_errors(client, offer, tamper):
    key = PrivateKey()
    sig, pub = signed(key, offer["k1"])
    k1, sig, pub = tamper(offer["k1"], sig, pub)
    response = callback(client, k1, sig, pub)
    assert response["status"] == "ERROR"
    assert response["reason"]
    assert not Worker.objects.exists()
    assert not LoginChallenge.objects.filter(signed_at__isnull=False).exists()


def test_a_signature_over_sha256_of_k1_is_refused(client, offer):
    key = PrivateKey()
    hashed_sig = key.sign(bytes.fromhex(offer["k1"])).hex()  # not how LUD-04 wallets sign
    response = callback(client, offer["k1"], hashed_sig, key.public_key.format().hex())
    assert response["status"] == "ERROR"
    assert not Worker.objects.exists()


def test_missing_parameters_and_wrong_tag_are_lnurl_errors(client, offer):
    response = client.get(reverse("lnurl-auth-callback"), {"tag": "login", "k1": offer["k1"]})
    assert response.status_code == 200
    assert response.json()["status"] == "ERROR"
    assert callback(client, offer["k1"], "00", "00", tag="withdrawRequest")["status"] == "ERROR"


def test_unknown_k1_poll_is_404(client, db):
    assert client.get(reverse("lnurl-auth-poll", args=["ab" * 32])).status_code == 404
