"""Every amount a client sends is bounded, and no balance leaves the 64-bit range on any
database; credit the fake node minted never reaches a real node."""

import pytest
from django.core.management import call_command
from django.urls import reverse

from labeling.models import Batch
from payouts import ledger
from payouts.errors import BalanceOutOfRange
from payouts.lightning import FakeMoneyOnRealNode, get_backend
from payouts.models import Account, Deposit, FakeNodeInvoice
from payouts.services import deposits as deposit_services
from tests.conftest import client_for

from .factories import credit_worker

BATCH = {
    "name": "Bounded",
    "task_type": "pairwise",
    "reward_msat": 1_000,
    "overlap": 1,
    "items": [{"prompt": "Q", "responses": [{"id": "a", "text": "A"}, {"id": "b", "text": "B"}]}],
}


def test_a_deposit_above_the_maximum_is_400_and_makes_no_invoice(requester_client, settings):
    settings.DEPOSIT_MAX_MSAT = 50_000
    before = Deposit.objects.count()
    response = requester_client.post(reverse("deposit-create"), {"amount_msat": 50_001})
    assert response.status_code == 400
    assert response.json() == {
        "amount_msat": ["A deposit is from 1000 msat (1 sat) to 50000 msat."]
    }
    assert Deposit.objects.count() == before


def test_a_withdrawal_above_the_maximum_is_400_and_holds_nothing(worker, settings):
    settings.WITHDRAWAL_MAX_MSAT = 10_000
    credit_worker(worker, 50_000)
    api = client_for(worker.user)
    response = api.post(reverse("withdrawal-create"), {"amount_msat": 10_001}, format="json")
    assert response.status_code == 400
    assert response.json() == {"amount_msat": ["At most 10000 msat per withdrawal."]}
    assert ledger.balance_msat(ledger.worker_held(worker.id)) == 0
    # Without an amount, the maximum is taken and the rest stays for the next withdrawal.
    assert api.post(reverse("withdrawal-create"), {}, format="json").json()["amount_msat"] == 10_000
    assert ledger.balance_msat(ledger.worker_available(worker.id)) == 40_000


def test_a_batch_costing_more_than_the_maximum_is_400_and_reserves_nothing(
    requester, requester_client, settings
):
    settings.BATCH_MAX_COST_MSAT = 999
    before = ledger.balance_msat(ledger.requester_available(requester.id))
    response = requester_client.post(reverse("batch-create"), BATCH, format="json")
    assert response.status_code == 400
    assert response.json() == {
        "reward_msat": ["The batch would cost 1000 msat; at most 999 msat per batch."]
    }
    assert not Batch.objects.exists()
    assert ledger.balance_msat(ledger.requester_available(requester.id)) == before


def test_no_balance_leaves_the_64_bit_range(worker):
    near_max = ledger.MAX_AMOUNT_MSAT
    for _ in range(4):  # 4 x 2.1e18 = 8.4e18, just under 2**63 - 1
        credit_worker(worker, near_max)
    account = ledger.worker_available(worker.id)
    assert ledger.balance_msat(account) == 4 * near_max
    with pytest.raises(BalanceOutOfRange):
        credit_worker(worker, near_max)
    stored = Account.objects.get(key=account.key).balance_msat
    assert stored == 4 * near_max and isinstance(stored, int)
    with pytest.raises(BalanceOutOfRange):
        credit_worker(worker, ledger.MAX_AMOUNT_MSAT + 1)  # no single leg beyond 21M BTC
    call_command("check_ledger")


@pytest.fixture
def switch_to_real_node(settings):
    def switch() -> None:
        settings.LIGHTNING_BACKEND = "lnd"
        settings.LND_REST_URL = "https://127.0.0.1:1"  # never reached: nothing connects here
        get_backend.cache_clear()

    yield switch
    get_backend.cache_clear()


def test_a_real_node_refuses_a_database_with_fake_node_credit_until_it_is_cleared(
    requester, make_batch, switch_to_real_node
):
    make_batch("pairwise")  # funded by a deposit the fake node settled
    switch_to_real_node()
    assert FakeNodeInvoice.objects.filter(paid_at__isnull=False).exists()
    with pytest.raises(FakeMoneyOnRealNode, match="clear_fake_money --yes"):
        get_backend()
    call_command("clear_fake_money", "--yes", stdout=None)
    assert get_backend().name == "lnd"
    assert not Account.objects.exists() and not Deposit.objects.exists()
    assert set(Batch.objects.values_list("status", flat=True)) == {Batch.Status.CANCELLED}


def test_clearing_needs_yes(db):
    with pytest.raises(Exception, match="--yes"):
        call_command("clear_fake_money")


def test_the_fake_node_itself_keeps_its_own_credit(requester):
    deposit_services.fund_requester(requester=requester, amount_msat=5_000)
    assert get_backend().name == "fake"
