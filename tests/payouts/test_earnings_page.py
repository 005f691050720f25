"""The worker's earnings page: Withdraw shows a QR and an "Open in wallet" link, and the
page follows the withdrawal's status (its JSON endpoint works with the browser session)."""

import pytest
from django.urls import reverse

from labeling.services.assignments import next_assignment_for
from labeling.services.ratings import submit_rating
from payouts.models import LightningAddress, Withdrawal

from .factories import callback, credit_worker, invoice
from .pay_service import PayService


def logged_in(client, worker):
    client.force_login(worker.user)
    return client


def test_the_page_offers_withdraw_when_there_is_a_balance(client, worker):
    credit_worker(worker, 12_500)
    page = logged_in(client, worker).get(reverse("earnings")).content.decode()
    assert 'action="/earnings/withdraw/"' in page
    assert "12 sats" in page


def test_nothing_to_withdraw_shows_no_button(client, worker):
    page = logged_in(client, worker).get(reverse("earnings")).content.decode()
    assert 'action="/earnings/withdraw/"' not in page


def test_withdraw_shows_the_qr_and_the_wallet_link_then_follows_the_status(
    client, worker, django_capture_on_commit_callbacks
):
    credit_worker(worker, 12_500)
    logged_in(client, worker)
    response = client.post(reverse("withdraw"), {"amount_sats": ""})
    assert response.status_code == 302
    withdrawal = Withdrawal.objects.get()
    assert withdrawal.amount_msat == 12_000  # whole sats: wallets invoice in sats
    page = client.get(response["Location"]).content.decode()
    assert "<svg" in page and 'href="lightning:LNURL1' in page
    assert "wallet.js" in page
    assert reverse("withdrawal-detail", args=[withdrawal.id]) in page

    status_url = reverse("withdrawal-detail", args=[withdrawal.id])
    assert client.get(status_url).json()["status"] == "open"
    with django_capture_on_commit_callbacks(execute=True):
        assert callback(client, withdrawal.k1, invoice(worker, 12_000))["status"] == "OK"
    assert client.get(status_url).json()["status"] == "paid"
    page = client.get(reverse("earnings")).content.decode()
    assert "Paid" in page


def test_a_chosen_amount_in_sats(client, worker):
    credit_worker(worker, 12_500)
    logged_in(client, worker).post(reverse("withdraw"), {"amount_sats": "5"})
    assert Withdrawal.objects.get().amount_msat == 5_000


def test_bad_amounts_are_reported_on_the_page(client, worker):
    credit_worker(worker, 12_500)
    logged_in(client, worker)
    for amount in ["abc", "-3", "1.5", "13", "0"]:
        response = client.post(reverse("withdraw"), {"amount_sats": amount}, follow=True)
        assert response.status_code == 200
        assert b'role="alert"' in response.content, amount
    assert Withdrawal.objects.count() == 0


def test_an_open_withdrawal_stays_on_the_page_after_a_reload(client, worker):
    credit_worker(worker, 12_500)
    logged_in(client, worker).post(reverse("withdraw"), {"amount_sats": "5"})
    page = client.get(reverse("earnings")).content.decode()
    assert 'href="lightning:LNURL1' in page
    assert 'action="/earnings/withdraw/"' not in page  # one open withdrawal at a time on the page


def test_the_page_sets_and_clears_a_lightning_address(client, worker, monkeypatch):
    from payouts import lnurl_pay as lightning_address

    logged_in(client, worker)
    monkeypatch.setattr(lightning_address, "resolve", lambda address: None)
    client.post(reverse("lightning-address-form"), {"address": "Alice@Wallet.example"})
    assert worker.lightning_address.address == "alice@wallet.example"
    assert "alice@wallet.example" in client.get(reverse("earnings")).content.decode()
    client.post(reverse("lightning-address-form"), {"address": ""})
    assert not LightningAddress.objects.exists()


@pytest.mark.parametrize(
    ("mode", "message"),
    [
        ("error", "El servicio de la dirección rechazó la solicitud."),
        ("http-500", "El servicio respondió con un error (HTTP 500)."),
    ],
)
def test_the_earnings_page_shows_the_address_error_in_spanish(
    client, worker, settings, mode, message
):
    settings.LIGHTNING_ADDRESS_ALLOW_PRIVATE = True  # the pay service runs on 127.0.0.1
    service = PayService()
    service.mode = mode
    try:
        page = logged_in(client, worker).post(
            reverse("lightning-address-form"),
            {"address": service.address},
            follow=True,
            HTTP_ACCEPT_LANGUAGE="es",
        )
    finally:
        service.close()
    assert f'role="alert">{message}</p>' in page.content.decode()
    assert not LightningAddress.objects.exists()


def test_the_withdraw_button_takes_the_same_whole_sats_as_the_api(client, worker):
    credit_worker(worker, 12_500)
    logged_in(client, worker).post(reverse("withdraw"))
    assert Withdrawal.objects.get().amount_msat == 12_000


def test_the_page_shows_available_and_pending_money_from_the_ledger(client, worker, make_batch):
    credit_worker(worker, 3_000)
    make_batch("pairwise", reward_msat=7_000, quality={"review_mode": "manual"})
    assignment = next_assignment_for(worker=worker)
    submit_rating(worker=worker, assignment_id=assignment.id, ranking=assignment.order)
    page = logged_in(client, worker).get(reverse("earnings")).content.decode()
    available, pending = page.split('<dd class="sats">')[1:3]
    assert (available.split("<")[0], pending.split("<")[0]) == ("3 sats", "7 sats")
