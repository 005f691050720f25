"""Per-address rate limits: login challenges, wallet callbacks, the admin login."""

import pytest
from django.contrib.auth import get_user_model
from django.test import Client
from django.urls import reverse


@pytest.fixture
def low_limits(settings):
    settings.RATE_LIMIT_LOGIN = "3/min"
    settings.RATE_LIMIT_LNURL = "3/min"


def test_challenge_creation_is_throttled_with_retry_after(client, db, low_limits):
    for _ in range(3):
        assert client.post(reverse("lnurl-auth")).status_code == 201
    over = client.post(reverse("lnurl-auth"))
    assert over.status_code == 429
    assert 1 <= int(over["Retry-After"]) <= 60
    assert "detail" in over.json()
    # counted per address: another one is served
    assert Client(REMOTE_ADDR="10.0.0.9").post(reverse("lnurl-auth")).status_code == 201


def test_the_login_page_counts_against_the_same_limit(client, db, low_limits):
    for _ in range(3):
        assert client.get(reverse("login")).status_code == 200
    over = client.get(reverse("login"))
    assert over.status_code == 429 and over["Retry-After"]


@pytest.mark.parametrize(
    "url",
    [
        reverse("lnurl-auth-callback"),
        reverse("lnurl-withdraw", args=["00" * 32]),
        reverse("lnurl-withdraw-callback"),
    ],
)
def test_wallet_callbacks_answer_an_lnurl_error_with_429(client, db, low_limits, url):
    for _ in range(3):
        response = client.get(url)
        assert response.status_code == 200 and response.json()["status"] == "ERROR"
    over = client.get(url)
    assert over.status_code == 429
    assert over.json() == {"status": "ERROR", "reason": "Too many requests; try again later."}
    assert int(over["Retry-After"]) >= 1


def test_the_admin_login_is_throttled(client, db, low_limits):
    get_user_model().objects.create_superuser("root", password="right-horse-battery")
    url = reverse("admin:login")
    for _ in range(3):
        assert client.post(url, {"username": "root", "password": "guess"}).status_code == 200
    over = client.post(url, {"username": "root", "password": "right-horse-battery"})
    assert over.status_code == 429 and over["Retry-After"]
    assert client.get(url).status_code == 200  # the form itself still shows


def test_an_empty_rate_turns_a_limit_off(client, db, settings):
    settings.RATE_LIMIT_LOGIN = ""
    assert all(client.post(reverse("lnurl-auth")).status_code == 201 for _ in range(40))


def test_limits_are_on_by_default(client, db):
    statuses = [client.post(reverse("lnurl-auth")).status_code for _ in range(31)]
    assert statuses.count(201) == 30 and statuses[-1] == 429
