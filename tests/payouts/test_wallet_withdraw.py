"""`manage.py wallet withdraw <lnurl>` draws a withdrawal over HTTP like a phone wallet."""

import pytest
from django.core.management import CommandError, call_command
from django.urls import reverse

from payouts.models import Withdrawal
from payouts.wallet import load_or_create_key

from .factories import credit_worker, open_withdrawal


@pytest.fixture
def site(live_server, settings, tmp_path):
    settings.PUBLIC_BASE_URL = live_server.url
    settings.WALLET_KEY_FILE = tmp_path / "key"
    load_or_create_key(settings.WALLET_KEY_FILE)
    return live_server


def test_wallet_withdraw_draws_the_whole_amount(site, worker, capsys):
    from payouts import lnurl_withdraw

    credit_worker(worker, 12_000)
    withdrawal = open_withdrawal(worker, 12_000)
    call_command("wallet", "withdraw", lnurl_withdraw.links(withdrawal)["lightning_uri"])
    assert "accepted" in capsys.readouterr().out
    withdrawal.refresh_from_db()
    assert withdrawal.status == "paid"


def test_wallet_withdraw_reports_a_refusal(site, worker):
    from payouts import lnurl_withdraw

    credit_worker(worker, 12_000)
    withdrawal = open_withdrawal(worker, 12_000)
    code = lnurl_withdraw.links(withdrawal)["lnurl"]
    call_command("wallet", "withdraw", code)
    with pytest.raises(CommandError, match="withdrawRequest"):
        call_command("wallet", "withdraw", code)  # the link was used
    assert Withdrawal.objects.get().status == "paid"
    assert reverse("lnurl-withdraw-callback")
