"""A broker that is down does not fail the wallet: the callback answers OK with the
withdrawal `paying`, and reconcile queues the payment once the broker is back."""

from datetime import timedelta

import pytest
from django.utils import timezone

from marketplace.celery import app as celery_app
from payouts.models import FakeNodePayment, Withdrawal
from payouts.services import withdrawals as withdrawal_services
from tests.processes import free_port

from .factories import callback, credit_worker, invoice, open_withdrawal


@pytest.fixture
def broker_down():
    """Celery publishes to a local port where nothing listens (connection refused)."""
    before = (celery_app.conf.broker_url, celery_app.conf.task_always_eager)
    celery_app.conf.broker_url = f"redis://127.0.0.1:{free_port()}/0"
    celery_app.conf.task_always_eager = False
    fresh_connections()
    yield
    celery_app.conf.broker_url, celery_app.conf.task_always_eager = before
    fresh_connections()


def fresh_connections() -> None:
    """Celery keeps broker connections in pools: forget them, so the next publish connects
    to the broker_url configured now."""
    celery_app._pool = None
    celery_app.amqp._producer_pool = None


def test_the_wallet_gets_ok_and_reconcile_pays_once_the_broker_is_back(
    client, worker, broker_down, django_capture_on_commit_callbacks
):
    credit_worker(worker, 50_000)
    withdrawal = open_withdrawal(worker, 21_000)
    with django_capture_on_commit_callbacks(execute=True):
        answer = callback(client, withdrawal.k1, invoice(worker, 21_000))
    assert answer == {"status": "OK"}
    withdrawal.refresh_from_db()
    assert (withdrawal.status, withdrawal.send_started_at) == ("paying", None)
    assert FakeNodePayment.objects.count() == 0

    celery_app.conf.task_always_eager = True  # the broker is back (jobs run in-process)
    later = timezone.now() + timedelta(minutes=5)
    with django_capture_on_commit_callbacks(execute=True):  # the beat job's own transaction
        assert withdrawal_services.reconcile_payouts(now=later)["finished"] == 0  # queued now
    assert Withdrawal.objects.get(id=withdrawal.id).status == "paid"
    withdrawal_services.reconcile_payouts(now=later + timedelta(minutes=5))
    assert FakeNodePayment.objects.count() == 1
