"""Celery jobs of the payouts app (queue `payouts`): thin, idempotent wrappers over services."""

from typing import Any

from celery import shared_task

from .lightning import NodeUnavailable
from .services import lightning_address, lnurl_auth, withdrawals


@shared_task(
    name="payouts.pay_withdrawal",
    autoretry_for=(NodeUnavailable,),
    retry_backoff=2,
    retry_backoff_max=300,
    retry_jitter=True,
    max_retries=8,
)
def pay_withdrawal(withdrawal_id: int, **kwargs: Any) -> str:
    return withdrawals.pay_withdrawal(withdrawal_id=withdrawal_id)


@shared_task(name="payouts.reconcile")
def reconcile(**kwargs: Any) -> dict[str, int]:
    return withdrawals.reconcile_payouts()


@shared_task(name="payouts.push_lightning_addresses")
def push_lightning_addresses(**kwargs: Any) -> int:
    return lightning_address.push_lightning_addresses()


@shared_task(name="payouts.purge_login_challenges")
def purge_login_challenges(**kwargs: Any) -> int:
    return lnurl_auth.purge_expired()
