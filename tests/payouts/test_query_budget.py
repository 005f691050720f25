"""The wallet's LNURL-withdraw callback runs the same exact number of SQL statements whatever
the number of withdrawals and workers (no N+1), and the balance provider is one query.

Paying a rating (the submit endpoint with its ledger transfer) is pinned with the other
worker endpoints in tests/labeling/test_query_budget.py.
"""

import pytest
from django.test import Client

from labeling.balances import worker_balance_msat
from payouts import tasks
from payouts.models import Withdrawal

from .factories import callback, credit_worker, invoice, open_withdrawal

AMOUNT = 21_000
# (the measured worker's paid withdrawals before, other workers with an open withdrawal)
SIZES = {"small": (1, 1), "large": (30, 5)}
# The k1 lookup, BEGIN, the claiming UPDATE, COMMIT: the same on SQLite and PostgreSQL (the
# claim is a conditional UPDATE, not a row lock). The payment is the payouts worker's job.
CALLBACK_QUERIES = 4
BALANCE_PROVIDER_QUERIES = 1


def paid_withdrawal(client: Client, worker) -> None:
    withdrawal = open_withdrawal(worker, AMOUNT)
    assert callback(client, withdrawal.k1, invoice(worker, AMOUNT)) == {"status": "OK"}


@pytest.mark.parametrize("size", list(SIZES))
@pytest.mark.django_db(transaction=True)
def test_the_withdraw_callback_runs_a_fixed_number_of_queries(
    size, client, make_worker, worker, monkeypatch, django_assert_num_queries
):
    earlier, others = SIZES[size]
    credit_worker(worker, AMOUNT * (earlier + 1))
    for _ in range(earlier):
        paid_withdrawal(client, worker)  # the job runs eagerly once the callback commits
    for _ in range(others):
        other = make_worker()
        credit_worker(other, AMOUNT)
        open_withdrawal(other, AMOUNT)
    assert Withdrawal.objects.filter(worker=worker, status="paid").count() == earlier
    withdrawal = open_withdrawal(worker, AMOUNT)
    pr = invoice(worker, AMOUNT)
    queued = []
    monkeypatch.setattr(
        tasks.pay_withdrawal, "apply_async", lambda kwargs, **_: queued.append(kwargs)
    )

    with django_assert_num_queries(CALLBACK_QUERIES):
        assert callback(client, withdrawal.k1, pr) == {"status": "OK"}
    assert queued == [{"withdrawal_id": withdrawal.id}]
    tasks.pay_withdrawal(withdrawal_id=withdrawal.id)  # what the payouts worker then does
    withdrawal.refresh_from_db()
    assert withdrawal.status == "paid"


def test_the_balance_provider_is_one_query(worker, django_assert_num_queries):
    with django_assert_num_queries(BALANCE_PROVIDER_QUERIES):
        assert worker_balance_msat(worker) == 0
