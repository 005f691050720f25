"""The payment job against a failing node: a definite failure returns the hold, an unknown
outcome stays `paying` until reconciliation asks the node, and nothing is paid twice."""

from datetime import timedelta

import pytest
from django.utils import timezone

from core import jobs
from payouts import ledger, lightning
from payouts.lightning import get_backend
from payouts.lightning.fake import FakeBackend
from payouts.models import FakeNodePayment, Withdrawal
from payouts.services import withdrawals as withdrawal_services

from .factories import credit_worker, invoice, open_withdrawal

AMOUNT = 8_000


@pytest.fixture
def node():
    backend = get_backend()
    assert isinstance(backend, FakeBackend)
    yield backend
    vars(backend).pop("mode", None)  # the cached node goes back to the class's mode
    FakeBackend.mode = "ok"


@pytest.fixture
def accepted(worker, node):
    """A withdrawal whose invoice the callback accepted: `paying`, job not yet run."""
    credit_worker(worker, 10_000)
    withdrawal = open_withdrawal(worker, AMOUNT)
    withdrawal_services.accept_withdrawal_invoice(k1=withdrawal.k1, pr=invoice(worker, AMOUNT))
    withdrawal.refresh_from_db()
    assert withdrawal.status == "paying"
    return withdrawal


def status_of(withdrawal):
    withdrawal.refresh_from_db()
    return withdrawal.status


def later(seconds):
    return timezone.now() + timedelta(seconds=seconds)


def test_the_job_pays_and_a_second_run_pays_nothing_more(accepted):
    assert withdrawal_services.pay_withdrawal(withdrawal_id=accepted.id) == "paid"
    assert withdrawal_services.pay_withdrawal(withdrawal_id=accepted.id) == "paid"
    assert withdrawal_services.reconcile_withdrawal(withdrawal_id=accepted.id) == "paid"
    assert FakeNodePayment.objects.count() == 1


def test_a_definite_failure_marks_failed_and_returns_the_hold(accepted, node, worker):
    node.mode = "fail"
    assert withdrawal_services.pay_withdrawal(withdrawal_id=accepted.id) == "failed"
    accepted.refresh_from_db()
    assert accepted.failure_reason == "no route"
    assert ledger.balance_msat(ledger.worker_available(worker.id)) == 10_000
    assert ledger.balance_msat(ledger.worker_held(worker.id)) == 0


def test_a_node_that_is_down_before_sending_releases_the_claim_for_a_retry(accepted, node):
    node.mode = "error"
    with pytest.raises(lightning.NodeUnavailable):
        withdrawal_services.pay_withdrawal(withdrawal_id=accepted.id)
    accepted.refresh_from_db()
    assert accepted.status == "paying" and accepted.send_started_at is None
    assert FakeNodePayment.objects.count() == 0
    node.mode = "ok"  # the retry
    assert withdrawal_services.pay_withdrawal(withdrawal_id=accepted.id) == "paid"
    assert FakeNodePayment.objects.count() == 1


def test_the_celery_job_retries_a_node_error_then_pays(accepted, node, monkeypatch):
    from payouts import tasks

    calls = []
    real = FakeBackend.pay_invoice

    def flaky(self, **kwargs):
        calls.append(1)
        if len(calls) < 3:
            raise lightning.NodeUnavailable("down")
        return real(self, **kwargs)

    monkeypatch.setattr(FakeBackend, "pay_invoice", flaky)
    tasks.pay_withdrawal.apply(kwargs={"withdrawal_id": accepted.id})
    assert len(calls) == 3
    assert status_of(accepted) == "paid"
    assert FakeNodePayment.objects.count() == 1


def test_a_node_timeout_leaves_it_paying_and_reconcile_finishes_it(accepted, node):
    node.mode = "hang"
    assert withdrawal_services.pay_withdrawal(withdrawal_id=accepted.id) == "paying"
    node.mode = "ok"
    assert (
        withdrawal_services.reconcile_withdrawal(withdrawal_id=accepted.id) == "paying"
    )  # in flight
    FakeBackend.complete_pending(payment_hash=accepted.payment_hash)
    assert withdrawal_services.reconcile_payouts()["finished"] == 1
    assert status_of(accepted) == "paid"
    assert FakeNodePayment.objects.count() == 1


def test_a_timed_out_payment_that_then_fails_returns_the_hold(accepted, node, worker):
    node.mode = "hang"
    withdrawal_services.pay_withdrawal(withdrawal_id=accepted.id)
    node.mode = "ok"
    FakeBackend.complete_pending(payment_hash=accepted.payment_hash, succeed=False)
    withdrawal_services.reconcile_payouts()
    assert status_of(accepted) == "failed"
    assert ledger.balance_msat(ledger.worker_available(worker.id)) == 10_000


def test_an_unknown_outcome_stays_paying_and_is_never_sent_again(accepted, node):
    node.mode = "unknown"
    assert withdrawal_services.pay_withdrawal(withdrawal_id=accepted.id) == "paying"
    for _ in range(3):
        withdrawal_services.reconcile_payouts(now=later(3600))
        assert withdrawal_services.pay_withdrawal(withdrawal_id=accepted.id) == "paying"
    assert FakeNodePayment.objects.count() == 1
    node.mode = "ok"
    withdrawal_services.reconcile_payouts()
    assert status_of(accepted) == "paid"
    assert FakeNodePayment.objects.count() == 1


def test_a_job_killed_between_send_and_record_is_finished_by_reconcile(accepted, node, monkeypatch):
    def die(**kwargs):
        raise SystemExit("worker killed")

    monkeypatch.setattr(withdrawal_services, "record_payment", die)
    with pytest.raises(SystemExit):
        withdrawal_services.pay_withdrawal(withdrawal_id=accepted.id)
    monkeypatch.undo()
    assert status_of(accepted) == "paying"
    assert FakeNodePayment.objects.get().state == "succeeded"  # the money left
    # The broker redelivers the job (acks_late) and the beat job runs: neither pays again.
    assert withdrawal_services.pay_withdrawal(withdrawal_id=accepted.id) == "paid"
    withdrawal_services.reconcile_payouts(now=later(3600))
    assert FakeNodePayment.objects.count() == 1
    accepted.refresh_from_db()
    assert accepted.fee_msat == AMOUNT // 1000 and len(accepted.preimage) == 64


def queued_jobs(monkeypatch: pytest.MonkeyPatch) -> list[tuple[str, dict]]:
    """Records the jobs services queue instead of running them."""
    queued: list[tuple[str, dict]] = []
    monkeypatch.setattr(jobs, "enqueue", lambda name, **kwargs: queued.append((name, kwargs)))
    return queued


def test_a_job_killed_between_claim_and_send_is_sent_once_after_the_grace_period(
    accepted, node, monkeypatch
):
    # The claim is taken, then the process dies before the node heard anything.
    Withdrawal.objects.filter(id=accepted.id).update(send_started_at=timezone.now())
    queued = queued_jobs(monkeypatch)
    withdrawal_services.reconcile_payouts()
    assert queued == []  # too early: the send may still be on its way
    withdrawal_services.reconcile_payouts(now=later(3600))
    assert queued == [("payouts.pay_withdrawal", {"withdrawal_id": accepted.id})]
    assert withdrawal_services.pay_withdrawal(withdrawal_id=accepted.id) == "paid"
    assert FakeNodePayment.objects.count() == 1


def test_a_job_that_never_ran_is_requeued_by_reconcile(accepted, monkeypatch):
    queued = queued_jobs(monkeypatch)
    withdrawal_services.reconcile_payouts()
    assert queued == []
    withdrawal_services.reconcile_payouts(now=later(3600))
    assert queued == [("payouts.pay_withdrawal", {"withdrawal_id": accepted.id})]


def test_stale_open_withdrawals_expire_and_return_their_hold(worker):
    credit_worker(worker, 10_000)
    withdrawal = open_withdrawal(worker, 4_000)
    assert withdrawal_services.expire_withdrawals() == 0
    assert withdrawal_services.reconcile_payouts(now=later(3600))["expired"] == 1
    assert status_of(withdrawal) == "expired"
    assert ledger.balance_msat(ledger.worker_available(worker.id)) == 10_000
    assert withdrawal_services.expire_withdrawals(now=later(7200)) == 0


def test_one_failing_row_does_not_stop_reconcile_from_finishing_the_others(
    worker, node, monkeypatch
):
    credit_worker(worker, 50_000)
    stuck = [open_withdrawal(worker, 10_000) for _ in range(2)]
    for withdrawal in stuck:
        node.mode = "hang"
        withdrawal_services.accept_withdrawal_invoice(k1=withdrawal.k1, pr=invoice(worker, 10_000))
        assert withdrawal_services.pay_withdrawal(withdrawal_id=withdrawal.id) == "paying"
        FakeBackend.complete_pending(
            payment_hash=Withdrawal.objects.get(id=withdrawal.id).payment_hash
        )
    node.mode = "ok"
    real = withdrawal_services.reconcile_withdrawal

    def broken_for_the_first(*, withdrawal_id, **kwargs):
        if withdrawal_id == stuck[0].id:
            raise RuntimeError("an answer nobody expected")
        return real(withdrawal_id=withdrawal_id, **kwargs)

    monkeypatch.setattr(withdrawal_services, "reconcile_withdrawal", broken_for_the_first)
    found = withdrawal_services.reconcile_payouts()
    assert (found["finished"], found["errors"]) == (1, 1)
    assert Withdrawal.objects.get(id=stuck[1].id).status == "paid"
    assert Withdrawal.objects.get(id=stuck[0].id).status == "paying"  # the next run's
