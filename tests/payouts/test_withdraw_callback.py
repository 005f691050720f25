"""The wallet's callback with its invoice: every defect is refused with an LNURL ERROR and
changes nothing; a good invoice is paid once, however often the wallet retries."""

import hashlib
import secrets
import time
from datetime import timedelta

import bolt11
import pytest
from bolt11 import Bolt11, MilliSatoshi, TagChar, Tags
from coincurve import PrivateKey
from django.utils import timezone

from payouts import ledger
from payouts.models import FakeNodePayment, Withdrawal

from .factories import callback, credit_worker, forged_invoice, invoice, open_withdrawal

AMOUNT = 21_000


@pytest.fixture
def withdrawal(worker):
    credit_worker(worker, 100_000)
    return open_withdrawal(worker, AMOUNT)


@pytest.fixture
def pay_on_commit(django_capture_on_commit_callbacks):
    """Runs the queued payment job (eager Celery) when the callback's transaction commits."""

    def run(client, k1, pr):
        with django_capture_on_commit_callbacks(execute=True):
            return callback(client, k1, pr)

    return run


def assert_unchanged(withdrawal):
    withdrawal.refresh_from_db()
    assert withdrawal.status == "open"
    assert withdrawal.payment_hash is None
    assert FakeNodePayment.objects.count() == 0
    assert ledger.balance_msat(ledger.worker_held(withdrawal.worker_id)) == AMOUNT


def test_a_valid_invoice_is_accepted_and_paid(client, worker, withdrawal, pay_on_commit):
    pr = invoice(worker, AMOUNT)
    assert pay_on_commit(client, withdrawal.k1, pr) == {"status": "OK"}
    withdrawal.refresh_from_db()
    assert withdrawal.status == "paid"
    assert withdrawal.payment_hash == bolt11.decode(pr).payment_hash
    assert len(withdrawal.preimage) == 64
    assert withdrawal.fee_msat == AMOUNT // 1000  # the fake node's 0.1 %
    assert FakeNodePayment.objects.get().amount_msat == AMOUNT
    assert ledger.balance_msat(ledger.worker_held(worker.id)) == 0
    assert ledger.balance_msat(ledger.worker_available(worker.id)) == 100_000 - AMOUNT
    # Fee policy: the worker is debited exactly the amount; the platform pays the fee.
    assert ledger.balance_msat(ledger.LIGHTNING_OUT) == AMOUNT + withdrawal.fee_msat
    assert ledger.balance_msat(ledger.FEES) == -withdrawal.fee_msat


def test_the_same_invoice_sent_again_is_ok_and_pays_nothing_more(
    client, worker, withdrawal, pay_on_commit
):
    pr = invoice(worker, AMOUNT)
    for _ in range(3):
        assert pay_on_commit(client, withdrawal.k1, pr) == {"status": "OK"}
    assert FakeNodePayment.objects.count() == 1


def test_another_invoice_for_a_k1_in_use_is_an_error(client, worker, withdrawal, pay_on_commit):
    assert pay_on_commit(client, withdrawal.k1, invoice(worker, AMOUNT))["status"] == "OK"
    answer = pay_on_commit(client, withdrawal.k1, invoice(worker, AMOUNT))
    assert answer["status"] == "ERROR" and "already used" in answer["reason"]
    assert FakeNodePayment.objects.count() == 1


def test_a_k1_of_someone_elses_paid_withdrawal_is_an_error(
    client, worker, make_worker, withdrawal, pay_on_commit
):
    assert pay_on_commit(client, withdrawal.k1, invoice(worker, AMOUNT))["status"] == "OK"
    thief = make_worker()
    answer = pay_on_commit(client, withdrawal.k1, invoice(thief, AMOUNT))
    assert answer["status"] == "ERROR"
    assert FakeNodePayment.objects.count() == 1


def test_an_invoice_already_used_by_another_withdrawal_is_an_error(
    client, worker, withdrawal, pay_on_commit
):
    pr = invoice(worker, AMOUNT)
    assert pay_on_commit(client, withdrawal.k1, pr)["status"] == "OK"
    second = open_withdrawal(worker, AMOUNT)
    answer = pay_on_commit(client, second.k1, pr)
    assert answer["status"] == "ERROR" and "invoice was already used" in answer["reason"]
    second.refresh_from_db()
    assert second.status == "open" and FakeNodePayment.objects.count() == 1


def no_description_invoice(worker, amount_msat):
    tags = Tags()
    tags.add(TagChar.payment_hash, secrets.token_hex(32))
    tags.add(TagChar.payment_secret, secrets.token_hex(32))
    unsigned = Bolt11(
        currency="bcrt", date=int(time.time()), tags=tags, amount_msat=MilliSatoshi(amount_msat)
    )
    return bolt11.encode(
        unsigned, private_key=worker.private_key.secret.hex(), ignore_exceptions=True
    )


def one_char_edit(pr: str) -> str:
    position = len(pr) // 2
    return pr[:position] + ("q" if pr[position] != "q" else "p") + pr[position + 1 :]


BAD_INVOICES = {
    "undecodable": (lambda w: "lnbcrt1notaninvoice", "decode"),
    "empty-ish": (lambda w: "   ", "Missing"),
    "bad checksum": (lambda w: one_char_edit(invoice(w, AMOUNT)), "decode"),
    "tampered": (lambda w: forged_invoice(AMOUNT, key=PrivateKey()), "signature"),
    "other network": (lambda w: invoice(w, AMOUNT, network="bitcoin"), "network"),
    "testnet": (lambda w: invoice(w, AMOUNT, network="testnet"), "network"),
    "no amount": (lambda w: invoice(w, None), "no amount"),
    "above max": (lambda w: invoice(w, AMOUNT + 1), "between"),
    "below min": (lambda w: invoice(w, AMOUNT - 1), "between"),
    "expired": (
        lambda w: invoice(w, AMOUNT, timestamp=int(time.time()) - 3600, expiry_seconds=600),
        "expired",
    ),
    "no description": (lambda w: no_description_invoice(w, AMOUNT), "description"),
    "short description hash": (
        lambda w: invoice(w, AMOUNT, description=None, description_hash="ab" * 16),
        "description",
    ),
    "oversized": (lambda w: "lnbcrt1" + "q" * 5000, "oversized"),
}


@pytest.mark.parametrize("defect", list(BAD_INVOICES))
def test_a_defective_invoice_is_refused_and_changes_nothing(
    client, worker, withdrawal, pay_on_commit, defect
):
    make, reason = BAD_INVOICES[defect]
    answer = pay_on_commit(client, withdrawal.k1, make(worker))
    assert answer["status"] == "ERROR", answer
    assert reason.lower() in answer["reason"].lower(), answer
    assert_unchanged(withdrawal)


def test_a_description_hash_invoice_is_accepted(client, worker, withdrawal, pay_on_commit):
    pr = invoice(
        worker, AMOUNT, description=None, description_hash=hashlib.sha256(b"w").hexdigest()
    )
    assert pay_on_commit(client, withdrawal.k1, pr) == {"status": "OK"}


def test_a_lightning_prefixed_invoice_is_accepted(client, worker, withdrawal, pay_on_commit):
    assert (
        pay_on_commit(client, withdrawal.k1, "lightning:" + invoice(worker, AMOUNT))["status"]
        == "OK"
    )


@pytest.mark.parametrize("k1", ["", "00" * 32, "not-hex", "x" * 500])
def test_an_unknown_k1_is_refused(client, worker, withdrawal, pay_on_commit, k1):
    answer = pay_on_commit(client, k1, invoice(worker, AMOUNT))
    assert answer["status"] == "ERROR"
    assert_unchanged(withdrawal)


def test_an_expired_withdrawal_is_refused(client, worker, withdrawal, pay_on_commit):
    Withdrawal.objects.filter(id=withdrawal.id).update(
        expires_at=timezone.now() - timedelta(seconds=1)
    )
    answer = pay_on_commit(client, withdrawal.k1, invoice(worker, AMOUNT))
    assert answer["status"] == "ERROR" and "expired" in answer["reason"]
    assert_unchanged(withdrawal)


def test_missing_parameters_are_refused(client, withdrawal):
    assert client.get("/api/v1/lnurl/withdraw/callback/").json()["status"] == "ERROR"
    assert (
        client.get("/api/v1/lnurl/withdraw/callback/", {"k1": withdrawal.k1}).json()["status"]
        == "ERROR"
    )
