"""Requesters fund their balance with a Lightning invoice, credited once when paid."""

import bolt11
from django.urls import reverse

from payouts import ledger
from payouts.lightning import get_backend
from payouts.models import Deposit, Transfer
from tests.conftest import client_for


def test_a_deposit_is_a_signed_regtest_invoice_for_the_amount(requester_client):
    response = requester_client.post(
        reverse("deposit-create"), {"amount_msat": 50_000}, format="json"
    )
    assert response.status_code == 201
    body = response.json()
    assert body["status"] == "unpaid"
    decoded = bolt11.decode(body["bolt11"])
    assert decoded.currency == "bcrt"
    assert decoded.amount_msat == 50_000
    assert decoded.payment_hash == body["payment_hash"]


def test_a_paid_deposit_is_credited_once(requester, requester_client):
    before = requester_client.get(reverse("requester")).json()["balance_msat"]
    deposit = requester_client.post(
        reverse("deposit-create"), {"amount_msat": 7_000}, format="json"
    ).json()
    detail = reverse("deposit-detail", args=[deposit["id"]])
    assert requester_client.get(detail).json()["status"] == "unpaid"
    paid = requester_client.post(reverse("deposit-simulate-payment", args=[deposit["id"]]))
    assert paid.status_code == 200 and paid.json()["status"] == "paid"
    for _ in range(3):  # reads and repeated simulations credit nothing more
        assert requester_client.get(detail).json()["status"] == "paid"
        requester_client.post(reverse("deposit-simulate-payment", args=[deposit["id"]]))
    assert requester_client.get(reverse("requester")).json()["balance_msat"] == before + 7_000
    assert (
        Transfer.objects.filter(kind="deposit", reference=f"deposit:{deposit['id']}").count() == 1
    )


def test_the_node_status_on_read_credits_a_deposit_paid_elsewhere(requester, requester_client):
    deposit = requester_client.post(
        reverse("deposit-create"), {"amount_msat": 3_000}, format="json"
    ).json()
    get_backend().settle_invoice(payment_hash=deposit["payment_hash"])  # paid by someone's wallet
    assert (
        requester_client.get(reverse("deposit-detail", args=[deposit["id"]])).json()["status"]
        == "paid"
    )


def test_the_reconcile_job_credits_paid_deposits(requester, requester_client):
    from payouts.services import withdrawals as withdrawal_services

    deposit = requester_client.post(
        reverse("deposit-create"), {"amount_msat": 3_000}, format="json"
    ).json()
    get_backend().settle_invoice(payment_hash=deposit["payment_hash"])
    assert withdrawal_services.reconcile_payouts()["deposits_credited"] == 1
    assert Deposit.objects.get(id=deposit["id"]).status == "paid"


def test_bad_deposit_amounts_are_400(requester_client):
    for amount in [0, -5, 999, "abc", None, 1.5]:
        response = requester_client.post(
            reverse("deposit-create"), {"amount_msat": amount}, format="json"
        )
        assert response.status_code == 400, amount
    assert Deposit.objects.count() == 1  # the fixture's own funding deposit


def test_a_requester_sees_only_its_own_deposits(requester_client, make_requester):
    deposit = requester_client.post(
        reverse("deposit-create"), {"amount_msat": 3_000}, format="json"
    ).json()
    other = client_for(make_requester().user)
    assert other.get(reverse("deposit-detail", args=[deposit["id"]])).status_code == 404
    assert other.post(reverse("deposit-simulate-payment", args=[deposit["id"]])).status_code == 404
    assert ledger.balance_msat(ledger.LIGHTNING_IN) < 0


def test_workers_cannot_deposit(worker_client):
    assert (
        worker_client.post(
            reverse("deposit-create"), {"amount_msat": 3_000}, format="json"
        ).status_code
        == 403
    )
