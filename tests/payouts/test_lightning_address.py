"""Lightning Address push (LUD-16): balances at the worker's threshold are paid to their
address by the same withdrawal state machine; a service's bad invoice pays nothing."""

import pytest
from django.urls import reverse

from payouts import ledger
from payouts.models import FakeNodePayment, LightningAddress, Withdrawal
from payouts.services import lightning_address as address_services

from .factories import credit_worker
from .pay_service import PayService


@pytest.fixture
def service(settings):
    settings.LIGHTNING_ADDRESS_ALLOW_PRIVATE = True  # the pay service runs on 127.0.0.1
    running = PayService()
    yield running
    running.close()


def test_a_worker_sets_an_address_and_the_balance_is_pushed_there(
    service, worker, worker_client, django_capture_on_commit_callbacks
):
    response = worker_client.put(
        reverse("lightning-address"),
        {"address": service.address, "threshold_msat": 5_000},
        format="json",
    )
    assert response.status_code == 200, response.content
    assert worker_client.get(reverse("lightning-address")).json()["address"] == service.address
    credit_worker(worker, 4_500)
    assert address_services.push_lightning_addresses() == 0  # below the threshold
    credit_worker(worker, 3_250)  # 7_750 msat: 7 whole sats go out
    with django_capture_on_commit_callbacks(execute=True):
        assert address_services.push_lightning_addresses() == 1
    withdrawal = Withdrawal.objects.get()
    assert withdrawal.status == "paid" and withdrawal.amount_msat == 7_000
    assert withdrawal.lightning_address == service.address
    assert FakeNodePayment.objects.get().amount_msat == 7_000
    assert ledger.balance_msat(ledger.worker_available(worker.id)) == 750
    assert address_services.push_lightning_addresses() == 0


@pytest.mark.parametrize(
    ("mode", "reason"),
    [("wrong-amount", "between"), ("wrong-hash", "description hash"), ("error", "refused")],
)
def test_a_bad_answer_from_the_service_pays_nothing_and_returns_the_hold(
    service, worker, mode, reason
):
    LightningAddress.objects.create(worker=worker, address=service.address, threshold_msat=1_000)
    credit_worker(worker, 9_000)
    service.mode = mode
    address_services.push_to_lightning_address(worker_id=worker.id)
    assert FakeNodePayment.objects.count() == 0
    assert ledger.balance_msat(ledger.worker_available(worker.id)) == 9_000
    assert ledger.balance_msat(ledger.worker_held(worker.id)) == 0
    assert reason in LightningAddress.objects.get().last_error
    assert not Withdrawal.objects.filter(status__in=["open", "paying"]).exists()


@pytest.mark.parametrize("address", ["not-an-address", "bob@", "alice@127.0.0.1:9"])
def test_an_address_that_does_not_resolve_is_refused(worker_client, settings, address):
    settings.LIGHTNING_ADDRESS_ALLOW_PRIVATE = True  # so 127.0.0.1:9 fails for want of a service
    response = worker_client.put(reverse("lightning-address"), {"address": address}, format="json")
    assert response.status_code == 400
    assert not LightningAddress.objects.exists()


def test_by_default_a_service_on_a_private_address_is_refused(service, worker_client, settings):
    settings.LIGHTNING_ADDRESS_ALLOW_PRIVATE = False
    response = worker_client.put(
        reverse("lightning-address"), {"address": service.address}, format="json"
    )
    assert response.status_code == 400
    assert response.json()["address"] == ["The service's address is not public."]
    assert not LightningAddress.objects.exists()


def test_the_services_own_error_text_is_not_shown(service, worker_client):
    service.mode = "error"
    response = worker_client.put(
        reverse("lightning-address"), {"address": service.address}, format="json"
    )
    assert response.status_code == 400
    assert "account closed" not in response.content.decode()
    assert not LightningAddress.objects.exists()


def test_removing_the_address(service, worker_client):
    worker_client.put(reverse("lightning-address"), {"address": service.address}, format="json")
    assert worker_client.delete(reverse("lightning-address")).status_code == 204
    assert worker_client.get(reverse("lightning-address")).status_code == 404
