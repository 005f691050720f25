"""LNURL-withdraw (LUD-03) links for a withdrawal, and the LUD-17 `lnurlw://` form."""

from urllib.parse import urlsplit

import lnurl
from django.conf import settings
from django.urls import reverse

from .models import Withdrawal


def request_url(withdrawal: Withdrawal) -> str:
    return f"{settings.PUBLIC_BASE_URL}{reverse('lnurl-withdraw', args=[withdrawal.k1])}"


def callback_url() -> str:
    return f"{settings.PUBLIC_BASE_URL}{reverse('lnurl-withdraw-callback')}"


def links(withdrawal: Withdrawal) -> dict[str, str]:
    url = request_url(withdrawal)
    code = lnurl.url_encode(url)
    parts = urlsplit(url)
    return {
        "lnurl": code,
        "lightning_uri": f"lightning:{code}",
        "lnurlw_uri": f"lnurlw://{parts.netloc}{parts.path}",
    }


def withdraw_request(withdrawal: Withdrawal) -> dict[str, object]:
    return {
        "tag": "withdrawRequest",
        "callback": callback_url(),
        "k1": withdrawal.k1,
        "defaultDescription": f"RLHF marketplace earnings (withdrawal {withdrawal.id})",
        "minWithdrawable": withdrawal.amount_msat,
        "maxWithdrawable": withdrawal.amount_msat,
    }
