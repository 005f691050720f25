"""An L402 client nobody here wrote (PyPI `l402-requests`) buys credit from the gateway and
pays the invoice from its own wallet on a real LNbits, where the site's node is LNbits too."""

import httpx
import pytest
from django.core.wsgi import get_wsgi_application
from l402_requests import L402Client
from l402_requests.wallets import WalletBase

from payouts.lightning.lnbits import LnbitsBackend
from rewardmodel.models import TrainingRun
from serving.models import L402Token, ServedCall, ServedModel
from serving.services import l402 as l402_services
from serving.services import publishing, settling
from tests.payouts.conftest import Lnbits, lnbits  # noqa: F401  # the LNbits fixture
from tests.serving.conftest import chat_body


class LnbitsWallet(WalletBase):
    """The client's wallet: an LNbits account that pays invoices and reports the preimage."""

    def __init__(self, server: Lnbits, admin_key: str) -> None:
        self.server, self.admin_key = server, admin_key

    async def pay_invoice(self, bolt11: str) -> str:
        async with httpx.AsyncClient(base_url=self.server.url, timeout=15) as wallet:
            headers = {"X-Api-Key": self.admin_key}
            paid = await wallet.post(
                "/api/v1/payments", json={"out": True, "bolt11": bolt11}, headers=headers
            )
            paid.raise_for_status()
            status = await wallet.get(
                f"/api/v1/payments/{paid.json()['payment_hash']}", headers=headers
            )
            return status.json()["preimage"]


@pytest.fixture
def site_on_lnbits(lnbits, monkeypatch, settings):  # noqa: F811
    settings.LIGHTNING_NETWORK = "bitcoin"  # FakeWallet invoices are lnbc…
    site = lnbits.new_wallet("site")
    backend = LnbitsBackend(url=lnbits.url, admin_key=site["adminkey"])
    monkeypatch.setattr(l402_services, "get_backend", lambda: backend)
    return backend


@pytest.mark.django_db(transaction=True)  # the WSGI app closes connections per request
def test_l402_requests_pays_through_lnbits_and_calls_the_model(
    lnbits,  # noqa: F811  # the fixture imported above
    site_on_lnbits,
    make_requester,
    echo_engine,
):
    owner = make_requester("owner")
    run = TrainingRun.objects.create(
        kind="ppo", status="succeeded", artifact_path="/m", started_by=owner.user
    )
    model = publishing.publish_model(
        user=owner.user,
        run_id=run.id,
        name="echo",
        prices={"price_msat_per_1k_input": 1_000, "price_msat_per_1k_output": 10_000},
    )
    ServedModel.objects.filter(id=model.id).update(engine_url=echo_engine)
    payer = lnbits.new_wallet("payer", sats=1_000)
    client = L402Client(
        wallet=LnbitsWallet(lnbits, payer["adminkey"]),
        transport=httpx.WSGITransport(app=get_wsgi_application()),
        base_url="http://127.0.0.1",
    )
    response = client.post("http://127.0.0.1/v1/chat/completions", json=chat_body())
    assert response.status_code == 200, response.text
    assert response.json()["choices"][0]["message"]["content"] == "one two three"
    assert settling.wait_settled()
    token = L402Token.objects.get()
    assert token.paid_at is not None and token.spent_msat == ServedCall.objects.get().charged_msat
    wallet = lnbits.call("GET", "/api/v1/wallet", **{"X-Api-Key": payer["adminkey"]})
    assert wallet["balance"] == 1_000_000 - 100_000  # msat: the credit was paid from it
