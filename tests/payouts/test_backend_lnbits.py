"""The lnbits backend against a real LNbits (FakeWallet funding source, internal payments)."""

import hashlib

import pytest

from payouts import ledger
from payouts.lightning import InvoiceState, PaymentState
from payouts.lightning.lnbits import LnbitsBackend
from payouts.services import withdrawals as withdrawal_services

from .factories import callback, credit_worker, open_withdrawal


@pytest.fixture
def platform(lnbits):
    wallet = lnbits.new_wallet("platform", sats=1_000)
    return LnbitsBackend(url=lnbits.url, admin_key=wallet["adminkey"], timeout=10)


@pytest.fixture
def phone(lnbits):
    """A worker's or requester's own wallet on the same LNbits."""
    wallet = lnbits.new_wallet("phone", sats=1_000)

    def invoice(amount_sats: int) -> dict:
        return lnbits.call(
            "POST",
            "/api/v1/payments",
            {"out": False, "amount": amount_sats, "memo": "withdrawal"},
            **{"X-Api-Key": wallet["adminkey"]},
        )

    def pay(bolt11: str) -> dict:
        return lnbits.call(
            "POST",
            "/api/v1/payments",
            {"out": True, "bolt11": bolt11},
            **{"X-Api-Key": wallet["adminkey"]},
        )

    def balance_msat() -> int:
        return lnbits.call("GET", "/api/v1/wallet", **{"X-Api-Key": wallet["adminkey"]})["balance"]

    wallet.update(invoice=invoice, pay=pay, balance_msat=balance_msat)
    return wallet


def test_info_answers(platform, settings):
    assert platform.info().backend == "lnbits"


def test_a_deposit_invoice_is_reported_paid_once_paid(platform, phone):
    invoice = platform.create_invoice(amount_msat=5_000, memo="deposit", expiry_seconds=600)
    assert invoice.bolt11.startswith("lnbc")
    assert platform.invoice_status(payment_hash=invoice.payment_hash) == InvoiceState.UNPAID
    phone["pay"](invoice.bolt11)
    assert platform.invoice_status(payment_hash=invoice.payment_hash) == InvoiceState.PAID


def test_paying_an_invoice_succeeds_once_with_its_preimage(platform, phone):
    invoice = phone["invoice"](21)
    before = phone["balance_msat"]()
    first = platform.pay_invoice(
        bolt11=invoice["bolt11"], idempotency_key=invoice["payment_hash"], max_fee_msat=1_000
    )
    assert first.state == PaymentState.SUCCEEDED
    assert hashlib.sha256(bytes.fromhex(first.preimage)).hexdigest() == invoice["payment_hash"]
    again = platform.pay_invoice(
        bolt11=invoice["bolt11"], idempotency_key=invoice["payment_hash"], max_fee_msat=1_000
    )
    assert again.state == PaymentState.SUCCEEDED
    assert phone["balance_msat"]() == before + 21_000  # paid once
    assert (
        platform.payment_status(payment_hash=invoice["payment_hash"]).state
        == PaymentState.SUCCEEDED
    )


def test_an_unknown_payment_hash_is_not_found(platform):
    assert platform.payment_status(payment_hash="ab" * 32).state == PaymentState.NOT_FOUND


def test_an_unpayable_invoice_is_a_definite_failure(platform, worker):
    from payouts import wallet

    foreign, _ = wallet.make_invoice(worker.private_key, amount_msat=1_000, network="bitcoin")
    result = platform.pay_invoice(bolt11=foreign, idempotency_key="00" * 32, max_fee_msat=1_000)
    assert result.state == PaymentState.FAILED


def test_an_empty_wallet_fails_definitely(lnbits, phone):
    empty = LnbitsBackend(url=lnbits.url, admin_key=lnbits.new_wallet("empty")["adminkey"])
    invoice = phone["invoice"](5)
    result = empty.pay_invoice(
        bolt11=invoice["bolt11"], idempotency_key=invoice["payment_hash"], max_fee_msat=1_000
    )
    assert result.state == PaymentState.FAILED


def test_a_worker_withdraws_to_an_lnbits_wallet_end_to_end(
    platform, phone, worker, client, settings, monkeypatch, django_capture_on_commit_callbacks
):
    settings.LIGHTNING_NETWORK = "bitcoin"  # FakeWallet invoices are lnbc…
    monkeypatch.setattr(withdrawal_services, "get_backend", lambda: platform)
    credit_worker(worker, 30_000)
    withdrawal = open_withdrawal(worker, 30_000)
    invoice = phone["invoice"](30)
    before = phone["balance_msat"]()
    with django_capture_on_commit_callbacks(execute=True):
        assert callback(client, withdrawal.k1, invoice["bolt11"]) == {"status": "OK"}
    withdrawal.refresh_from_db()
    assert withdrawal.status == "paid"
    assert phone["balance_msat"]() == before + 30_000
    assert ledger.balance_msat(ledger.worker_held(worker.id)) == 0
