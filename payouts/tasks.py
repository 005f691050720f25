"""Celery jobs of the payouts app (queue `payouts`; the Lightning Address push on
`payouts_push`): thin, idempotent wrappers over services."""

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


# Its own queue (payouts_push, see settings) so slow address services never hold up
# pay_withdrawal; each push makes two outbound calls of at most 10 s, so a run of 500 fits
# in the limits only when most services answer quickly: the rest wait for the next run.
@shared_task(name="payouts.push_lightning_addresses", soft_time_limit=240, time_limit=300)
def push_lightning_addresses(**kwargs: Any) -> int:
    return lightning_address.push_lightning_addresses()


@shared_task(name="payouts.purge_login_challenges")
def purge_login_challenges(**kwargs: Any) -> int:
    return lnurl_auth.purge_expired()
