"""The periodic job deletes login challenges expired for over a day."""

from datetime import timedelta

from django.contrib.sessions.models import Session
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from payouts.models import LoginChallenge, SignedInSession
from payouts.tasks import purge_login_challenges


def test_purge_deletes_challenges_expired_over_a_day_ago(client, worker):
    for _ in range(3):
        client.post(reverse("lnurl-auth"))
    now = timezone.now()
    old, recent, live = LoginChallenge.objects.order_by("id")
    LoginChallenge.objects.filter(id=old.id).update(expires_at=now - timedelta(days=1, hours=1))
    LoginChallenge.objects.filter(id=recent.id).update(expires_at=now - timedelta(hours=23))
    assert purge_login_challenges.delay().get() == 1
    assert set(LoginChallenge.objects.values_list("id", flat=True)) == {recent.id, live.id}
    assert purge_login_challenges.delay().get() == 0  # safe to run twice


def test_purge_forgets_sessions_that_are_gone(worker):
    browser, ended = Client(), Client()
    browser.force_login(worker.user)
    ended.force_login(worker.user)
    Session.objects.filter(session_key=ended.session.session_key).delete()
    purge_login_challenges.delay()
    remembered = SignedInSession.objects.values_list("session_key", flat=True)
    assert list(remembered) == [browser.session.session_key]
