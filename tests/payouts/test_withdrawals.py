"""A worker opens an LNURL-withdraw: the amount is held at once, the wallet reads the
withdrawRequest, and only the owner sees the withdrawal."""

import bolt11  # noqa: F401  (the library must import: bitstring<5)
import lnurl
import pytest
from django.urls import reverse

from payouts import ledger
from payouts.models import Withdrawal
from tests.conftest import client_for

from .factories import credit_worker, withdraw_request_of


@pytest.fixture
def paid_worker(worker):
    credit_worker(worker, 50_000)
    return worker


def test_a_withdrawal_holds_the_amount_and_returns_an_lnurl(paid_worker, client):
    api = client_for(paid_worker.user)
    response = api.post(reverse("withdrawal-create"), {"amount_msat": 20_000}, format="json")
    assert response.status_code == 201
    body = response.json()
    assert body["status"] == "open" and body["amount_msat"] == 20_000
    assert (
        body["lnurl"].startswith("LNURL1") and body["lightning_uri"] == f"lightning:{body['lnurl']}"
    )
    assert body["lnurlw_uri"].startswith("lnurlw://")
    assert "<svg" in body["qr_svg"]
    assert ledger.balance_msat(ledger.worker_available(paid_worker.id)) == 30_000
    assert ledger.balance_msat(ledger.worker_held(paid_worker.id)) == 20_000
    assert api.get(reverse("me")).json()["balance_msat"] == 30_000

    offer = withdraw_request_of(client, body["lnurl"])
    withdrawal = Withdrawal.objects.get(id=body["id"])
    assert offer == {
        "tag": "withdrawRequest",
        "callback": f"http://127.0.0.1:8000{reverse('lnurl-withdraw-callback')}",
        "k1": withdrawal.k1,
        "defaultDescription": offer["defaultDescription"],
        "minWithdrawable": 20_000,
        "maxWithdrawable": 20_000,
    }
    assert lnurl.url_decode(body["lnurl"]).endswith(f"/api/v1/lnurl/withdraw/{withdrawal.k1}/")


def test_the_default_amount_is_the_whole_balance(paid_worker):
    body = client_for(paid_worker.user).post(reverse("withdrawal-create"), {}, format="json").json()
    assert body["amount_msat"] == 50_000
    assert ledger.balance_msat(ledger.worker_available(paid_worker.id)) == 0


@pytest.mark.parametrize(
    "amount",
    [0, -1, 50_001, 10**30, "abc", "12.5", 12.5, True, None, [], {"x": 1}],
)
def test_bad_amounts_are_400_and_hold_nothing(paid_worker, amount):
    response = client_for(paid_worker.user).post(
        reverse("withdrawal-create"), {"amount_msat": amount}, format="json"
    )
    assert response.status_code == 400, response.content
    assert Withdrawal.objects.count() == 0
    assert ledger.balance_msat(ledger.worker_available(paid_worker.id)) == 50_000


def test_nothing_to_withdraw_is_400(worker_client):
    assert worker_client.post(reverse("withdrawal-create"), {}, format="json").status_code == 400


def test_only_workers_withdraw_and_only_owners_see_a_withdrawal(
    paid_worker, make_worker, requester_client
):
    body = (
        client_for(paid_worker.user)
        .post(reverse("withdrawal-create"), {"amount_msat": 1_000}, format="json")
        .json()
    )
    detail = reverse("withdrawal-detail", args=[body["id"]])
    assert client_for(make_worker().user).get(detail).status_code == 404
    assert requester_client.get(detail).status_code == 403
    assert requester_client.post(reverse("withdrawal-create"), {}, format="json").status_code == 403
    own = client_for(paid_worker.user).get(detail).json()
    assert own == {
        "id": body["id"],
        "status": "open",
        "amount_msat": 1_000,
        "fee_msat": 0,
        "payment_hash": None,
        "preimage": "",
        "expires_at": own["expires_at"],
    }


def test_an_unknown_or_used_k1_gets_an_lnurl_error_on_the_withdraw_request(client, db):
    response = client.get(reverse("lnurl-withdraw", args=["00" * 32]))
    assert response.status_code == 200
    assert response.json()["status"] == "ERROR"


def test_the_default_amount_is_rounded_down_to_whole_sats_as_wallets_invoice(worker):
    credit_worker(worker, 50_500)
    body = client_for(worker.user).post(reverse("withdrawal-create"), {}, format="json").json()
    assert body["amount_msat"] == 50_000
    assert ledger.balance_msat(ledger.worker_available(worker.id)) == 500


def test_less_than_a_sat_is_not_withdrawn_by_default(worker):
    credit_worker(worker, 999)
    response = client_for(worker.user).post(reverse("withdrawal-create"), {}, format="json")
    assert response.status_code == 400
    assert response.json() == {
        "amount_msat": ["Less than 1 sat to withdraw: wallets take whole sats."]
    }
    assert ledger.balance_msat(ledger.worker_available(worker.id)) == 999
