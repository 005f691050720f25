"""The payouts admin lists money for a superuser and reconciles stuck payments."""

import pytest
from django.contrib.auth import get_user_model
from django.urls import reverse

from payouts.lightning.fake import FakeBackend
from payouts.models import Withdrawal
from payouts.services import withdrawals as withdrawal_services

from .factories import credit_worker, invoice, open_withdrawal


@pytest.fixture
def admin_client(client, db):
    user = get_user_model().objects.create_superuser("root", "root@example.com", "pw")
    client.force_login(user)
    return client


def test_every_payouts_admin_page_renders(admin_client, worker, requester):
    credit_worker(worker, 5_000)
    open_withdrawal(worker, 1_000)
    for model in ["transfer", "account", "deposit", "withdrawal", "lightningaddress"]:
        response = admin_client.get(reverse(f"admin:payouts_{model}_changelist"))
        assert response.status_code == 200, model
    assert (
        admin_client.get(
            reverse("admin:payouts_withdrawal_changelist") + "?attention=stuck"
        ).status_code
        == 200
    )
    assert (
        admin_client.get(
            reverse("admin:payouts_account_changelist") + "?kind=requester_available"
        ).status_code
        == 200
    )


def test_the_reconcile_action_finishes_a_stuck_payment_once(admin_client, worker):
    credit_worker(worker, 5_000)
    withdrawal = open_withdrawal(worker, 4_000)
    withdrawal_services.accept_withdrawal_invoice(k1=withdrawal.k1, pr=invoice(worker, 4_000))
    FakeBackend.mode = "hang"
    withdrawal_services.pay_withdrawal(withdrawal_id=withdrawal.id)
    FakeBackend.mode = "ok"
    FakeBackend.complete_pending(payment_hash=Withdrawal.objects.get().payment_hash)
    response = admin_client.post(
        reverse("admin:payouts_withdrawal_changelist"),
        {"action": "reconcile", "_selected_action": [withdrawal.id]},
        follow=True,
    )
    assert response.status_code == 200
    assert Withdrawal.objects.get().status == "paid"


def test_a_requester_cannot_see_the_ledger(client, requester):
    client.force_login(requester.user)
    assert client.get(reverse("admin:payouts_transfer_changelist")).status_code == 403


def test_a_workers_admin_page_shows_what_the_ledger_holds_for_it(admin_client, worker):
    credit_worker(worker, 5_000)
    open_withdrawal(worker, 1_000)
    page = admin_client.get(reverse("admin:labeling_worker_change", args=[worker.id]))
    assert page.status_code == 200
    assert "available: 4000, held: 1000, pending: 0" in page.content.decode()
