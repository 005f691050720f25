"""Helpers for payouts tests: a worker with money, a wallet invoice, a withdrawal."""

import hashlib
import secrets
import time
from typing import Any
from urllib.parse import parse_qs, urlparse

import bolt11
import lnurl
from bolt11 import Bolt11, MilliSatoshi, TagChar, Tags
from coincurve import PrivateKey
from django.conf import settings
from django.test import Client

from labeling.models import Worker
from payouts import ledger, wallet
from payouts.models import Withdrawal
from payouts.services import withdrawals as withdrawal_services


def credit_worker(worker: Worker, amount_msat: int) -> None:
    """Money on a worker's available balance, booked like an external deposit would be."""
    ledger.transfer(
        kind="deposit",
        reference=f"test-credit:{worker.id}:{secrets.token_hex(8)}",
        legs=[
            (ledger.LIGHTNING_IN, -amount_msat),
            (ledger.worker_available(worker.id), amount_msat),
        ],
    )


def invoice(worker: Any, amount_msat: int | None, **kwargs: Any) -> str:
    kwargs.setdefault("network", settings.LIGHTNING_NETWORK)
    pr, _ = wallet.make_invoice(worker.private_key, amount_msat=amount_msat, **kwargs)
    return pr


def open_withdrawal(worker: Worker, amount_msat: int) -> Withdrawal:
    return withdrawal_services.create_withdrawal(worker=worker, amount_msat=amount_msat)


def callback(client: Client, k1: str, pr: str) -> dict[str, Any]:
    response = client.get("/api/v1/lnurl/withdraw/callback/", {"k1": k1, "pr": pr})
    assert response.status_code == 200
    return response.json()


def withdraw_request_of(client: Client, code: str) -> dict[str, Any]:
    url = urlparse(lnurl.url_decode(code))
    response = client.get(url.path, parse_qs(url.query))
    assert response.status_code == 200
    return response.json()


def forged_invoice(amount_msat: int, *, key: PrivateKey, with_payee: bool = True) -> str:
    """A regtest invoice signed for 1 sat whose amount was then changed to `amount_msat`."""
    tags = Tags()
    tags.add(TagChar.payment_hash, hashlib.sha256(b"x").hexdigest())
    tags.add(TagChar.payment_secret, secrets.token_hex(32))
    tags.add(TagChar.description, "withdrawal")
    if with_payee:
        tags.add(TagChar.payee, key.public_key.format().hex())
    signed = Bolt11(
        currency="bcrt", date=int(time.time()), tags=tags, amount_msat=MilliSatoshi(1_000)
    )
    bolt11.encode(signed, private_key=key.secret.hex(), keep_payee=with_payee)
    changed = Bolt11(
        currency="bcrt",
        date=signed.date,
        tags=tags,
        amount_msat=MilliSatoshi(amount_msat),
        signature=signed.signature,
    )
    return bolt11.encode(changed, keep_payee=with_payee)
