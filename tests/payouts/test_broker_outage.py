"""A real Redis broker stopped and started again: the wallet's callback answers OK while it
is down, and once it is back reconcile queues the payment and a real worker pays it once."""

import subprocess
import time
from collections.abc import Iterator
from datetime import timedelta

import pytest
from django.conf import settings
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from marketplace.celery import app
from payouts.models import FakeNodePayment, Withdrawal
from payouts.services import withdrawals as withdrawal_services
from tests.celery_worker import celery_worker, redis_answers
from tests.conftest import needs_postgres
from tests.processes import free_port, stop_group, wait_until

from .factories import credit_worker, invoice, open_withdrawal

PORT = free_port()
BROKER = f"redis://127.0.0.1:{PORT}/0"


class RedisServer:
    """A redis-server of this test's own, on a free local port, that can be stopped."""

    def __init__(self) -> None:
        self.process: subprocess.Popen | None = None

    def start(self) -> None:
        self.process = subprocess.Popen(
            [
                "redis-server",
                "--port",
                str(PORT),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
            ],
            stdout=subprocess.DEVNULL,
            start_new_session=True,
        )
        deadline = time.monotonic() + 10
        while not redis_answers(BROKER):
            assert time.monotonic() < deadline, "redis-server did not start"
            time.sleep(0.1)

    def stop(self) -> None:
        if self.process is not None:
            stop_group(self.process)
            self.process = None


def fresh_publisher() -> None:
    """Forget pooled broker connections (they died with the server)."""
    app._pool = None
    app.amqp._producer_pool = None


@pytest.fixture
def redis_server() -> Iterator[RedisServer]:
    server = RedisServer()
    server.start()
    yield server
    server.stop()


@pytest.fixture
def payouts_worker(transactional_db, redis_server, monkeypatch):
    saved = {key: app.conf[key] for key in ("task_always_eager", "broker_url")}
    app.conf.update(task_always_eager=False, broker_url=BROKER)
    monkeypatch.setenv("CELERY_BROKER_URL", BROKER)  # Celery reads it before its settings
    fresh_publisher()
    with celery_worker(
        broker=BROKER,
        queue="payouts",
        options=["--pool", "threads", "-c", "2"],
        env={"LIGHTNING_BACKEND": "fake", "LIGHTNING_NETWORK": settings.LIGHTNING_NETWORK},
    ) as process:
        yield process
    app.conf.update(saved)
    fresh_publisher()


@needs_postgres
@pytest.mark.celery
@pytest.mark.postgres
def test_a_broker_outage_delays_the_payment_and_never_doubles_it(
    payouts_worker, redis_server, make_worker
):
    wallet = make_worker()
    credit_worker(wallet, 20_000)
    withdrawal = open_withdrawal(wallet, 12_000)
    redis_server.stop()
    started = time.monotonic()
    answer = Client().get(
        reverse("lnurl-withdraw-callback"), {"k1": withdrawal.k1, "pr": invoice(wallet, 12_000)}
    )
    assert (answer.status_code, answer.json()) == (200, {"status": "OK"})
    assert time.monotonic() - started < 5  # the wallet is not kept waiting on the broker
    withdrawal.refresh_from_db()
    assert (withdrawal.status, withdrawal.send_started_at) == ("paying", None)

    redis_server.start()
    fresh_publisher()
    later = timezone.now() + timedelta(seconds=settings.PAYOUT_REQUEUE_AFTER_SECONDS + 1)
    withdrawal_services.reconcile_payouts(now=later)  # queues the job once
    assert wait_until(lambda: Withdrawal.objects.get(id=withdrawal.id).status == "paid")
    withdrawal_services.reconcile_payouts(now=later + timedelta(hours=1))
    time.sleep(1)  # any second job would have run by now
    assert FakeNodePayment.objects.count() == 1
    assert payouts_worker.poll() is None  # the worker rode out the outage
