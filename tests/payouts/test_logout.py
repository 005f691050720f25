"""Logout revokes the API token; tokens expire; "sign out everywhere" ends every session."""

from datetime import timedelta

from django.contrib.sessions.models import Session
from django.test import Client
from django.urls import reverse
from django.utils import timezone
from rest_framework.authtoken.models import Token

from payouts.services.lnurl_auth import token_for
from tests.conftest import client_for


def browser_of(user):
    browser = Client()
    browser.force_login(user)
    return browser


def test_api_logout_revokes_the_token(worker):
    api = client_for(worker.user)
    assert api.get(reverse("me")).status_code == 200
    assert api.post(reverse("api-logout")).status_code == 204
    assert api.get(reverse("me")).status_code == 401
    assert not Token.objects.filter(user=worker.user).exists()
    assert api.post(reverse("api-logout")).status_code == 401


def test_page_logout_revokes_the_token_too(worker):
    api = client_for(worker.user)
    browser = browser_of(worker.user)
    assert browser.post(reverse("logout")).status_code == 302
    assert api.get(reverse("me")).status_code == 401
    assert browser.get(reverse("me")).status_code == 401


def test_plain_logout_leaves_other_browsers_signed_in(worker):
    phone, laptop = browser_of(worker.user), browser_of(worker.user)
    phone.post(reverse("logout"))
    assert laptop.get(reverse("me")).status_code == 200


def test_sign_out_everywhere_ends_every_session_of_that_user(worker, make_worker):
    phone, laptop = browser_of(worker.user), browser_of(worker.user)
    other = browser_of(make_worker().user)
    api = client_for(worker.user)
    assert api.post(reverse("api-logout") + "?everywhere=1").status_code == 204
    assert api.get(reverse("me")).status_code == 401
    assert phone.get(reverse("me")).status_code == 401
    assert laptop.get(reverse("me")).status_code == 401
    assert other.get(reverse("me")).status_code == 200
    assert Session.objects.count() == 1


def test_an_everywhere_flag_that_is_not_a_boolean_is_400_and_signs_nothing_out(worker):
    """Found by fuzzing: `everywhere=null` used to sign out of this client only, silently."""
    api = client_for(worker.user)
    response = api.post(reverse("api-logout") + "?everywhere=null")
    assert response.status_code == 400
    assert response.json() == {"everywhere": ["Use true or false."]}
    assert api.get(reverse("me")).status_code == 200


def test_sign_out_everywhere_from_the_page(worker):
    phone, laptop = browser_of(worker.user), browser_of(worker.user)
    phone.post(reverse("logout"), {"everywhere": "1"})
    assert laptop.get(reverse("me")).status_code == 401


def test_tokens_expire_after_the_ttl(worker, settings):
    settings.API_TOKEN_TTL_SECONDS = 3600
    api = client_for(worker.user)
    assert api.get(reverse("me")).status_code == 200
    Token.objects.update(created=timezone.now() - timedelta(seconds=3601))
    response = api.get(reverse("me"))
    assert response.status_code == 401 and "expired" in response.json()["detail"]
    settings.API_TOKEN_TTL_SECONDS = 0  # never
    assert api.get(reverse("me")).status_code == 200


def test_a_new_login_replaces_an_expired_token(worker):
    old = token_for(worker)
    Token.objects.update(created=timezone.now() - timedelta(days=365))
    new = token_for(worker)
    assert new != old
    api = Client(HTTP_AUTHORIZATION=f"Token {new}")
    assert api.get(reverse("me")).status_code == 200
