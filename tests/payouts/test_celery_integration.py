"""End to end through a real Celery worker on the local Redis: the callback queues the
job on commit, the worker (another process, same test database) pays through the fake node."""

import os
import time

import pytest
from django.conf import settings
from django.test import Client
from django.urls import reverse

from payouts.models import FakeNodePayment, Withdrawal
from tests.celery_worker import celery_worker, redis_answers
from tests.conftest import needs_postgres
from tests.processes import wait_until

from .factories import credit_worker, invoice, open_withdrawal

BROKER = os.environ.get("CELERY_BROKER_URL", "")


needs_redis = pytest.mark.skipif(
    not redis_answers(BROKER), reason="needs Redis at CELERY_BROKER_URL (CI sets redis://…)"
)


@pytest.fixture
def fake_node_mode() -> str:
    return "ok"


@pytest.fixture
def celery_worker_process(transactional_db, fake_node_mode):
    from marketplace.celery import app

    with app.connection_for_write() as conn:
        conn.default_channel.queue_purge("payouts")
    options = ["--pool", "threads", "-c", "4"]  # as deployed (README)
    with celery_worker(
        broker=BROKER,
        queue="payouts",
        options=options,
        env={
            "LIGHTNING_BACKEND": "fake",
            "LIGHTNING_NETWORK": settings.LIGHTNING_NETWORK,
            "FAKE_LIGHTNING_MODE": fake_node_mode,
        },
    ) as process:
        yield process


@needs_postgres
@needs_redis
@pytest.mark.celery
@pytest.mark.postgres
def test_a_real_worker_pays_accepted_withdrawals_once(celery_worker_process, make_worker):
    wallets = [make_worker() for _ in range(4)]
    withdrawals = []
    for wallet in wallets:
        credit_worker(wallet, 10_000)
        withdrawal = open_withdrawal(wallet, 9_000)
        pr = invoice(wallet, 9_000)
        for _ in range(2):  # the wallet retries: same invoice, still one payment
            answer = (
                Client()
                .get(reverse("lnurl-withdraw-callback"), {"k1": withdrawal.k1, "pr": pr})
                .json()
            )
            assert answer == {"status": "OK"}
        withdrawals.append(withdrawal)
    ids = [w.id for w in withdrawals]
    paid = wait_until(lambda: Withdrawal.objects.filter(id__in=ids, status="paid").count() == 4)
    if not paid:
        celery_worker_process.terminate()
        output = celery_worker_process.stdout.read().decode(errors="replace")[-3000:]
        pytest.fail(f"not paid in time; worker said:\n{output}")
    assert FakeNodePayment.objects.count() == 4
    assert set(FakeNodePayment.objects.values_list("payment_hash", flat=True)) == set(
        Withdrawal.objects.filter(id__in=ids).values_list("payment_hash", flat=True)
    )


def pay_through_worker(wallet, count: int) -> None:
    ids = []
    for _ in range(count):
        withdrawal = open_withdrawal(wallet, 1_000)
        pr = invoice(wallet, 1_000)
        answer = Client().get(reverse("lnurl-withdraw-callback"), {"k1": withdrawal.k1, "pr": pr})
        assert answer.json() == {"status": "OK"}
        ids.append(withdrawal.id)
    assert wait_until(lambda: Withdrawal.objects.filter(id__in=ids, status="paid").count() == count)


def worker_sessions() -> set[int]:
    """Backends of other processes connected to the test database."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT pid FROM pg_stat_activity WHERE datname = current_database()"
            " AND pid <> pg_backend_pid()"
        )
        return {pid for (pid,) in cursor.fetchall()}


@needs_postgres
@needs_redis
@pytest.mark.celery
@pytest.mark.postgres
def test_the_worker_keeps_its_database_connection_between_jobs(celery_worker_process, worker):
    # A new PostgreSQL backend per payment job cost more than the payment itself.
    credit_worker(worker, 100_000)
    others = worker_sessions()  # whatever else is connected (earlier tests' leftovers)
    pay_through_worker(worker, 4)
    after_first = worker_sessions() - others
    assert 1 <= len(after_first) <= 4  # one per pool thread (-c 4), left open
    pay_through_worker(worker, 6)
    after_second = worker_sessions() - others
    assert after_first <= after_second and len(after_second) <= 4


@needs_postgres
@needs_redis
@pytest.mark.celery
@pytest.mark.postgres
@pytest.mark.parametrize("fake_node_mode", ["die-after-pay"])
def test_a_worker_killed_between_send_and_record_is_finished_by_reconcile(
    celery_worker_process, worker
):
    from payouts.services import withdrawals as withdrawal_services

    credit_worker(worker, 10_000)
    withdrawal = open_withdrawal(worker, 9_000)
    answer = (
        Client()
        .get(
            reverse("lnurl-withdraw-callback"), {"k1": withdrawal.k1, "pr": invoice(worker, 9_000)}
        )
        .json()
    )
    assert answer == {"status": "OK"}
    # The job's process pays and dies before recording it: the row stays paying.
    assert wait_until(lambda: FakeNodePayment.objects.count() == 1)
    time.sleep(1)
    withdrawal.refresh_from_db()
    assert withdrawal.status == "paying" and withdrawal.send_started_at is not None
    assert withdrawal_services.reconcile_payouts()["finished"] == 1
    withdrawal.refresh_from_db()
    assert withdrawal.status == "paid"
    assert FakeNodePayment.objects.count() == 1
