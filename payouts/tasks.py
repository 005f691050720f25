"""Celery jobs of the payouts app (queue `payouts`): thin, idempotent wrappers over services."""

from typing import Any

from celery import shared_task

from . import services
from .lightning import NodeUnavailable


@shared_task(
    name="payouts.pay_withdrawal",
    autoretry_for=(NodeUnavailable,),
    retry_backoff=2,
    retry_backoff_max=300,
    retry_jitter=True,
    max_retries=8,
)
def pay_withdrawal(withdrawal_id: int, **kwargs: Any) -> str:
    return services.pay_withdrawal(withdrawal_id=withdrawal_id)


@shared_task(name="payouts.reconcile")
def reconcile(**kwargs: Any) -> dict[str, int]:
    return services.reconcile_payouts()


@shared_task(name="payouts.push_lightning_addresses")
def push_lightning_addresses(**kwargs: Any) -> int:
    return services.push_lightning_addresses()
