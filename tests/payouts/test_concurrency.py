"""Races decided by PostgreSQL: many callbacks for one k1 pay once; many withdrawals at
once never overdraw."""

import json
import threading
import urllib.parse
import urllib.request
from concurrent.futures import ThreadPoolExecutor

import pytest
from django.conf import settings
from django.db import connection, connections
from django.test import Client
from django.urls import reverse

from payouts import ledger
from payouts.models import FakeNodePayment, Withdrawal
from tests.conftest import client_for, needs_postgres
from tests.web_server import gunicorn_server

from .factories import credit_worker, invoice, open_withdrawal

# PostgreSQL allows 100 connections and other suites share it: 45 threads at a time.
THREADS = 45


def run_all(calls):
    """Runs the calls on THREADS threads, the first wave released together by a barrier."""
    barrier = threading.Barrier(min(THREADS, len(calls)))

    def run(indexed):
        index, call = indexed
        try:
            if index < THREADS:
                barrier.wait(timeout=30)
            return call()
        finally:
            connection.close()

    with ThreadPoolExecutor(max_workers=THREADS) as pool:
        results = list(pool.map(run, enumerate(calls), timeout=120))
    connections.close_all()
    return results


@needs_postgres
@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_100_callbacks_for_one_k1_make_exactly_one_payment(worker, settings):
    settings.RATE_LIMIT_LNURL = ""  # a hundred callbacks from one address
    credit_worker(worker, 50_000)
    withdrawal = open_withdrawal(worker, 30_000)
    invoices = [invoice(worker, 30_000) for _ in range(100)]

    def call(pr):
        return lambda: (
            Client().get(reverse("lnurl-withdraw-callback"), {"k1": withdrawal.k1, "pr": pr}).json()
        )

    answers = run_all([call(pr) for pr in invoices])
    assert sum(answer["status"] == "OK" for answer in answers) == 1
    assert FakeNodePayment.objects.count() == 1
    withdrawal.refresh_from_db()
    assert withdrawal.status == "paid"
    assert FakeNodePayment.objects.get().payment_hash == withdrawal.payment_hash
    assert ledger.balance_msat(ledger.worker_available(worker.id)) == 20_000


@needs_postgres
@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_100_wallets_calling_back_at_once_over_http_make_one_payment(worker):
    # All 100 connections open at the same moment against the real server, which serves
    # them from its own few database connections (payments run in-process: no broker).
    credit_worker(worker, 50_000)
    withdrawal = open_withdrawal(worker, 30_000)
    invoices = [invoice(worker, 30_000) for _ in range(100)]
    env = {
        "LIGHTNING_BACKEND": "fake",
        "LIGHTNING_NETWORK": settings.LIGHTNING_NETWORK,
        "CELERY_BROKER_URL": "",
        "RATE_LIMIT_LNURL": "",  # a hundred wallets behind one address
    }
    with gunicorn_server(env=env) as base_url:
        barrier = threading.Barrier(len(invoices))

        def call(pr: str) -> dict:
            query = urllib.parse.urlencode({"k1": withdrawal.k1, "pr": pr})
            url = f"{base_url}{reverse('lnurl-withdraw-callback')}?{query}"
            barrier.wait(timeout=30)
            with urllib.request.urlopen(url, timeout=60) as response:
                return json.loads(response.read())

        with ThreadPoolExecutor(max_workers=len(invoices)) as pool:
            answers = list(pool.map(call, invoices, timeout=120))
    assert sum(answer["status"] == "OK" for answer in answers) == 1
    refused = {answer["reason"] for answer in answers if answer["status"] == "ERROR"}
    assert refused == {"This withdrawal link was already used."}
    withdrawal.refresh_from_db()
    assert withdrawal.status == "paid"
    assert list(FakeNodePayment.objects.values_list("payment_hash", flat=True)) == [
        withdrawal.payment_hash
    ]
    assert ledger.balance_msat(ledger.worker_available(worker.id)) == 20_000


@needs_postgres
@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_the_accepted_invoice_resent_100_times_at_once_pays_once(worker):
    credit_worker(worker, 50_000)
    withdrawal = open_withdrawal(worker, 30_000)
    pr = invoice(worker, 30_000)

    def call():
        return (
            Client().get(reverse("lnurl-withdraw-callback"), {"k1": withdrawal.k1, "pr": pr}).json()
        )

    answers = run_all([call] * 100)
    assert all(answer["status"] == "OK" for answer in answers)
    assert FakeNodePayment.objects.count() == 1


@needs_postgres
@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_50_withdrawals_at_once_never_overdraw(worker):
    credit_worker(worker, 100_000)
    api = client_for(worker.user)
    token = api._credentials["HTTP_AUTHORIZATION"]

    def call():
        from rest_framework.test import APIClient

        client = APIClient()
        client.credentials(HTTP_AUTHORIZATION=token)
        return client.post(
            reverse("withdrawal-create"), {"amount_msat": 7_000}, format="json"
        ).status_code

    codes = run_all([call] * 50)
    assert codes.count(201) == 14  # 14 * 7_000 <= 100_000 < 15 * 7_000
    assert codes.count(400) == 36
    assert Withdrawal.objects.count() == 14
    assert ledger.balance_msat(ledger.worker_available(worker.id)) == 2_000
    assert ledger.balance_msat(ledger.worker_held(worker.id)) == 98_000
