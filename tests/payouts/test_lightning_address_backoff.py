"""The Lightning Address push job isolates failures: one worker's failing service (an HTTP
error, a bad invoice, an unexpected error) never stops the others being paid, and a failing
address backs off exponentially until a push succeeds."""

from collections.abc import Iterator
from datetime import timedelta

import pytest
from django.utils import timezone

from payouts import ledger, lnurl_pay
from payouts.models import FakeNodePayment, LightningAddress, Withdrawal
from payouts.services import lightning_address as address_services

from .factories import credit_worker
from .pay_service import PayService


@pytest.fixture
def services(settings) -> Iterator[tuple[PayService, PayService]]:
    settings.LIGHTNING_ADDRESS_ALLOW_PRIVATE = True  # the pay services run on 127.0.0.1
    failing, healthy = PayService(), PayService()
    yield failing, healthy
    failing.close()
    healthy.close()


@pytest.fixture
def two_workers(make_worker, services):
    failing, healthy = services
    first, second = make_worker(), make_worker()
    LightningAddress.objects.create(worker=first, address=failing.address)
    LightningAddress.objects.create(worker=second, address=healthy.address)
    credit_worker(first, 5_000)
    credit_worker(second, 6_000)
    return first, second


def paid_to(worker) -> list[int]:
    return list(
        Withdrawal.objects.filter(worker=worker, status="paid").values_list(
            "amount_msat", flat=True
        )
    )


# `pushed` counts withdrawals made: the bad invoice's failed one counts, the 500 makes none.
@pytest.mark.parametrize(("mode", "pushed"), [("http-500", 1), ("garbage-invoice", 2)])
def test_a_failing_service_does_not_stop_the_next_worker_being_paid(
    services, two_workers, mode, pushed, django_capture_on_commit_callbacks
):
    failing, _ = services
    first, second = two_workers
    failing.mode = mode
    with django_capture_on_commit_callbacks(execute=True):
        assert address_services.push_lightning_addresses() == pushed
    assert paid_to(second) == [6_000]
    assert paid_to(first) == []
    assert ledger.balance_msat(ledger.worker_available(first.id)) == 5_000
    config = LightningAddress.objects.get(worker=first)
    assert config.failures == 1 and config.retry_at > timezone.now()
    assert config.last_error


def test_an_unexpected_error_for_one_worker_is_caught_and_the_hold_returned(
    services, two_workers, monkeypatch, django_capture_on_commit_callbacks
):
    failing, _ = services
    first, second = two_workers
    real_fetch = lnurl_pay.fetch_invoice

    def fetch(pay_request, *, amount_msat):
        if failing.address.split("@")[1] in pay_request.callback:
            raise RuntimeError("a bug")
        return real_fetch(pay_request, amount_msat=amount_msat)

    monkeypatch.setattr(lnurl_pay, "fetch_invoice", fetch)
    with django_capture_on_commit_callbacks(execute=True):
        address_services.push_lightning_addresses()
    assert paid_to(second) == [6_000]
    assert ledger.balance_msat(ledger.worker_available(first.id)) == 5_000
    assert ledger.balance_msat(ledger.worker_held(first.id)) == 0
    config = LightningAddress.objects.get(worker=first)
    assert config.failures == 1 and config.last_error == address_services.UNEXPECTED_ERROR
    assert "a bug" not in config.last_error


def test_a_failing_address_is_not_retried_before_retry_at_and_backs_off(services, two_workers):
    failing, _ = services
    first, _ = two_workers
    failing.mode = "http-500"
    address_services.push_lightning_addresses()
    config = LightningAddress.objects.get(worker=first)
    first_delay = config.retry_at - timezone.now()
    calls = failing.calls

    address_services.push_lightning_addresses()  # before retry_at: not even asked
    assert failing.calls == calls

    LightningAddress.objects.filter(id=config.id).update(retry_at=timezone.now())
    address_services.push_lightning_addresses()
    config.refresh_from_db()
    assert failing.calls == calls + 1
    assert config.failures == 2
    second_delay = config.retry_at - timezone.now()
    assert second_delay > first_delay * 1.5  # doubled (give or take the seconds elapsed)
    assert second_delay <= address_services.MAX_BACKOFF


def test_the_backoff_is_capped_and_reset_by_a_success(
    services, two_workers, django_capture_on_commit_callbacks
):
    failing, _ = services
    first, _ = two_workers
    LightningAddress.objects.filter(worker=first).update(
        failures=30, retry_at=timezone.now() - timedelta(seconds=1)
    )
    failing.mode = "http-500"
    address_services.push_lightning_addresses()
    config = LightningAddress.objects.get(worker=first)
    assert config.retry_at - timezone.now() <= timedelta(hours=24)
    assert config.retry_at - timezone.now() > timedelta(hours=23)

    failing.mode = "ok"
    LightningAddress.objects.filter(id=config.id).update(retry_at=timezone.now())
    with django_capture_on_commit_callbacks(execute=True):
        address_services.push_lightning_addresses()
    config.refresh_from_db()
    assert (config.failures, config.retry_at, config.last_error) == (0, None, "")
    assert FakeNodePayment.objects.filter(amount_msat=5_000).exists()
