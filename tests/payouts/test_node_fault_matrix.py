"""Node faults against every backend (fake, lnd, cln, lnbits), driven through the withdrawal
services: each ends in exactly one payment by the node's own record, or in a clean failure
with the hold returned; never two payments.

lnd and cln are the real backend classes talking HTTP to local servers speaking their
shapes; lnbits is a real LNbits (FakeWallet) behind a local proxy that injects the
transport faults LNbits cannot be made to produce."""

import threading
import time
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
from django.conf import settings
from django.utils import timezone

from labeling.models import Worker
from payouts import ledger, wallet
from payouts.lightning import LightningBackend, get_backend
from payouts.lightning.cln import ClnBackend
from payouts.lightning.fake import FakeBackend
from payouts.lightning.lnbits import LnbitsBackend
from payouts.lightning.lnd import LndBackend
from payouts.models import FakeNodePayment, Withdrawal
from payouts.services import withdrawals as withdrawal_services

from .conftest import Lnbits
from .factories import credit_worker, invoice, open_withdrawal
from .node_servers import ClnHandler, LnbitsProxy, LndHandler, NodeServer

AMOUNT = 8_000  # whole sats: LNbits invoices are in sats
SHORT = 0.5  # the pay timeout while a fault holds the node's answer back
HELD = ("timeout", "lost")


class Node:
    """A backend, the faults its node can be steered into, and the node's own record.

    Faults of a pay: timeout (sent, no answer in time; the node finishes it later), error
    (sent, then a 5xx/internal error), pending (answers "in flight"), lost (no answer; the
    node never saw it, or sees it late), no-route (a definite failure)."""

    backend: LightningBackend

    def invoice(self, worker: Worker, fault: str) -> str:
        return invoice(worker, AMOUNT)

    def fault(self, name: str) -> None:
        raise NotImplementedError

    def heal(self) -> None:
        raise NotImplementedError

    def settle(self, payment_hash: str) -> None:
        """The node finishes a payment it has in flight."""

    def deliver_late(self, withdrawal: Withdrawal) -> None:
        """A `lost` request reaches the node now, after the service gave up on it."""
        raise NotImplementedError

    def sends(self, payment_hash: str) -> int:
        """How many times money left the node for this payment hash."""
        raise NotImplementedError


class FakeNode(Node):
    MODES = {"timeout": "hang", "error": "error-after-send", "no-route": "fail"}

    def __init__(self) -> None:
        self.backend = get_backend()
        assert isinstance(self.backend, FakeBackend)

    def fault(self, name: str) -> None:
        FakeBackend.mode = self.MODES.get(name, name)

    def heal(self) -> None:
        FakeBackend.mode = "ok"

    def settle(self, payment_hash: str) -> None:
        FakeBackend.complete_pending(payment_hash=payment_hash)

    def deliver_late(self, withdrawal: Withdrawal) -> None:
        self.backend.pay_invoice(
            bolt11=withdrawal.bolt11, idempotency_key=withdrawal.payment_hash, max_fee_msat=0
        )

    def sends(self, payment_hash: str) -> int:
        payments = FakeNodePayment.objects.filter(payment_hash=payment_hash)
        return payments.exclude(state="failed").count()


class ServerNode(Node):
    """lnd or cln: the real backend class against a local server."""

    MODES = {"timeout": "hang", "error": "error-after-send"}

    backend: LndBackend | ClnBackend

    def __init__(self, name: str) -> None:
        if name == "lnd":
            self.server = NodeServer(LndHandler)
            self.backend = LndBackend(
                url=self.server.url, macaroon_hex=LndHandler.auth_value, timeout=10
            )
        else:
            self.server = NodeServer(ClnHandler)
            self.backend = ClnBackend(url=self.server.url, rune=ClnHandler.auth_value, timeout=10)
        self.backend.http_margin = 0.0

    def fault(self, name: str) -> None:
        self.server.mode = self.MODES.get(name, name)
        self.backend.pay_timeout = SHORT if name in HELD else 10

    def heal(self) -> None:
        self.server.mode = "ok"
        self.backend.pay_timeout = 10

    def settle(self, payment_hash: str) -> None:
        payment = self.server.payments[payment_hash]
        if payment["status"] == "IN_FLIGHT":
            payment.update(status="SUCCEEDED", payment_preimage="ab" * 32, fee_msat="8")
        elif payment["status"] == "pending":
            payment.update(status="complete", payment_preimage="ab" * 32)

    def deliver_late(self, withdrawal: Withdrawal) -> None:
        self.server.release.set()
        wait_until(lambda: withdrawal.payment_hash in self.server.sends)

    def sends(self, payment_hash: str) -> int:
        return self.server.sends.count(payment_hash)


class LnbitsNode(Node):
    """The real LNbits pays (platform wallet → the worker's wallet on the same LNbits)."""

    backend: LnbitsBackend

    def __init__(self, lnbits: Lnbits, proxy: LnbitsProxy) -> None:
        self.lnbits, self.proxy = lnbits, proxy
        platform = lnbits.new_wallet("platform", sats=1_000)
        self.phone = lnbits.new_wallet("phone")
        self.backend = LnbitsBackend(url=proxy.url, admin_key=platform["adminkey"], timeout=10)
        self.backend.http_margin = 0.0

    def invoice(self, worker: Worker, fault: str) -> str:
        if fault == "no-route":  # not this LNbits's: FakeWallet cannot route it anywhere
            pr, _ = wallet.make_invoice(worker.private_key, amount_msat=AMOUNT, network="bitcoin")
            return pr
        created = self.lnbits.call(
            "POST",
            "/api/v1/payments",
            {"out": False, "amount": AMOUNT // 1000, "memo": "withdrawal"},
            **{"X-Api-Key": self.phone["adminkey"]},
        )
        return created["bolt11"]

    def fault(self, name: str) -> None:
        self.proxy.release = threading.Event()
        self.proxy.fault = "ok" if name == "no-route" else name
        self.backend.pay_timeout = SHORT if name in HELD else 10

    def heal(self) -> None:
        self.proxy.fault = "ok"
        self.backend.pay_timeout = 10

    def deliver_late(self, withdrawal: Withdrawal) -> None:
        self.proxy.release.set()
        wait_until(lambda: self.sends(withdrawal.payment_hash or "") == 1)

    def sends(self, payment_hash: str) -> int:
        # The worker's wallet is paid only by these tests: its balance counts the payments.
        balance_msat = self.lnbits.call(
            "GET", "/api/v1/wallet", **{"X-Api-Key": self.phone["adminkey"]}
        )["balance"]
        assert balance_msat % AMOUNT == 0
        return balance_msat // AMOUNT


def wait_until(condition: Any, timeout: float = 10) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "the node did not get there in time"
        time.sleep(0.05)


@pytest.fixture(scope="module")
def lnbits_proxy(lnbits: Lnbits) -> Iterator[LnbitsProxy]:
    proxy = LnbitsProxy(lnbits.url)
    yield proxy
    proxy.close()


@pytest.fixture(params=["fake", "lnd", "cln", "lnbits"])
def node(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> Iterator[Node]:
    if request.param == "fake":
        chosen: Node = FakeNode()
    elif request.param == "lnbits":
        request.getfixturevalue("settings").LIGHTNING_NETWORK = "bitcoin"  # FakeWallet: lnbc
        chosen = LnbitsNode(
            request.getfixturevalue("lnbits"), request.getfixturevalue("lnbits_proxy")
        )
    else:
        chosen = ServerNode(request.param)
    monkeypatch.setattr(withdrawal_services, "get_backend", lambda: chosen.backend)
    yield chosen
    chosen.heal()
    if isinstance(chosen, ServerNode):
        chosen.server.close()


def paying(node: Node, worker: Worker, fault: str, capture: Any) -> Withdrawal:
    """A withdrawal whose invoice the wallet's callback accepted, its job queued, the node
    steered into `fault` for when the job runs."""
    credit_worker(worker, AMOUNT)
    withdrawal = open_withdrawal(worker, AMOUNT)
    pr = node.invoice(worker, fault)
    with capture() as queued:
        withdrawal_services.accept_withdrawal_invoice(k1=withdrawal.k1, pr=pr)
    assert len(queued) == 1  # the job; the tests run it by hand
    withdrawal.refresh_from_db()
    node.fault(fault)
    return withdrawal


def pay(withdrawal: Withdrawal) -> str:
    """The payment job's run."""
    return withdrawal_services.pay_withdrawal(withdrawal_id=withdrawal.id)


def reconcile(withdrawal: Withdrawal, *, after: float = 0) -> str:
    withdrawal_services.reconcile_payouts(now=timezone.now() + timedelta(seconds=after))
    withdrawal.refresh_from_db()
    return withdrawal.status


def assert_paid_once(node: Node, withdrawal: Withdrawal) -> None:
    withdrawal.refresh_from_db()
    assert withdrawal.status == "paid"
    assert node.sends(withdrawal.payment_hash or "") == 1
    assert ledger.balance_msat(ledger.worker_held(withdrawal.worker_id)) == 0
    assert ledger.balance_msat(ledger.worker_available(withdrawal.worker_id)) == 0


RESEND = settings.PAYOUT_RESEND_AFTER_SECONDS


def test_a_timeout_after_the_send_stays_paying_and_reconcile_finishes_it(
    node, worker, django_capture_on_commit_callbacks
):
    withdrawal = paying(node, worker, "timeout", django_capture_on_commit_callbacks)
    assert pay(withdrawal) == "paying"
    node.heal()
    node.settle(withdrawal.payment_hash)
    assert reconcile(withdrawal) == "paid"
    assert pay(withdrawal) == "paid"  # a redelivered job
    assert reconcile(withdrawal, after=RESEND + 1) == "paid"
    assert_paid_once(node, withdrawal)


def test_a_5xx_after_the_send_is_no_failure_and_reconcile_finds_it_paid(
    node, worker, django_capture_on_commit_callbacks
):
    withdrawal = paying(node, worker, "error", django_capture_on_commit_callbacks)
    assert pay(withdrawal) == "paying"
    node.heal()
    assert reconcile(withdrawal) == "paid"
    assert_paid_once(node, withdrawal)


def test_an_in_flight_answer_stays_paying_until_the_node_finishes(
    node, worker, django_capture_on_commit_callbacks
):
    withdrawal = paying(node, worker, "pending", django_capture_on_commit_callbacks)
    assert pay(withdrawal) == "paying"
    with django_capture_on_commit_callbacks() as queued:
        assert reconcile(withdrawal, after=RESEND + 1) == "paying"
    assert queued == []  # in flight: never sent again
    node.settle(withdrawal.payment_hash)
    node.heal()
    assert reconcile(withdrawal) == "paid"
    assert_paid_once(node, withdrawal)


def test_a_job_killed_between_send_and_record_is_recorded_once_by_its_redelivery(
    node, worker, monkeypatch, django_capture_on_commit_callbacks
):
    withdrawal = paying(node, worker, "ok", django_capture_on_commit_callbacks)

    def die(**kwargs: Any) -> str:
        raise SystemExit("worker killed")

    with monkeypatch.context() as patch:
        patch.setattr(withdrawal_services, "record_payment", die)
        with pytest.raises(SystemExit):
            pay(withdrawal)
    assert node.sends(withdrawal.payment_hash) == 1  # the money left
    assert pay(withdrawal) == "paid"  # the broker redelivers the job
    assert reconcile(withdrawal, after=RESEND + 1) == "paid"
    assert_paid_once(node, withdrawal)


def test_a_resend_that_meets_already_paid_records_it_paid_once(
    node, worker, django_capture_on_commit_callbacks
):
    withdrawal = paying(node, worker, "lost", django_capture_on_commit_callbacks)
    assert pay(withdrawal) == "paying"
    node.heal()
    with django_capture_on_commit_callbacks() as queued:
        assert reconcile(withdrawal, after=RESEND + 1) == "paying"  # not found: resend
    assert len(queued) == 1
    node.deliver_late(withdrawal)  # the first send reaches the node after all
    for job in queued:
        job()
    assert_paid_once(node, withdrawal)


def test_not_found_after_a_timeout_is_resent_once_after_the_grace_period(
    node, worker, django_capture_on_commit_callbacks
):
    withdrawal = paying(node, worker, "lost", django_capture_on_commit_callbacks)
    assert pay(withdrawal) == "paying"
    node.heal()
    with django_capture_on_commit_callbacks() as queued:
        assert reconcile(withdrawal) == "paying"
        assert reconcile(withdrawal, after=RESEND - 5) == "paying"
    assert queued == []  # too early: the send may still be on its way
    assert node.sends(withdrawal.payment_hash) == 0
    with django_capture_on_commit_callbacks(execute=True) as queued:
        reconcile(withdrawal, after=RESEND + 1)
    assert len(queued) == 1
    assert_paid_once(node, withdrawal)


def test_no_route_fails_and_returns_the_hold(node, worker, django_capture_on_commit_callbacks):
    withdrawal = paying(node, worker, "no-route", django_capture_on_commit_callbacks)
    assert pay(withdrawal) == "failed"
    assert reconcile(withdrawal, after=RESEND + 1) == "failed"
    withdrawal.refresh_from_db()
    assert withdrawal.failure_reason
    assert node.sends(withdrawal.payment_hash) == 0
    assert ledger.balance_msat(ledger.worker_held(worker.id)) == 0
    assert ledger.balance_msat(ledger.worker_available(worker.id)) == AMOUNT
