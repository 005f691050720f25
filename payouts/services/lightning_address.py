"""Lightning Address payouts (LUD-16): a worker's address, paid automatically through
the same withdrawal state machine and payment job once the balance reaches its threshold."""

import logging
from datetime import timedelta

from celery.exceptions import SoftTimeLimitExceeded
from django.conf import settings
from django.db.models import F, Q
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from labeling.models import Worker

from .. import ledger, lnurl_pay
from ..errors import InvoiceRefused, WithdrawalRefused
from ..models import Account, LightningAddress, Withdrawal
from .withdrawals import accept_withdrawal_invoice, create_withdrawal, return_hold

logger = logging.getLogger(__name__)

# A failing address waits 1, 2, 4, … minutes before the next push, at most a day.
FIRST_BACKOFF = timedelta(minutes=1)
MAX_BACKOFF = timedelta(hours=24)
UNEXPECTED_ERROR = gettext_lazy("The payout failed unexpectedly; it is tried again later.")


def set_lightning_address(
    *, worker: Worker, address: str, threshold_msat: int = 1_000
) -> LightningAddress:
    """Saves the worker's address for automatic payouts once it resolves to a pay service."""
    address = address.strip().lower()
    if not 1_000 <= threshold_msat <= ledger.MAX_AMOUNT_MSAT:
        raise WithdrawalRefused({"threshold_msat": [_("At least 1000 msat (1 sat).")]})
    try:
        lnurl_pay.resolve(address)
    except lnurl_pay.AddressError as exc:
        raise WithdrawalRefused({"address": [str(exc)]}) from exc
    config, _created = LightningAddress.objects.update_or_create(
        worker=worker,
        defaults={
            "address": address,
            "threshold_msat": threshold_msat,
            "enabled": True,
            "last_error": "",
            "failures": 0,
            "retry_at": None,
        },
    )
    return config


def remove_lightning_address(*, worker: Worker) -> None:
    LightningAddress.objects.filter(worker=worker).delete()


def push_to_lightning_address(*, worker_id: int) -> Withdrawal | None:
    """Pays the worker's available balance (whole sats) to their Lightning Address through
    the same withdrawal state machine and payment job. None when there is nothing to do."""
    config = LightningAddress.objects.filter(worker_id=worker_id, enabled=True).first()
    if config is None:
        return None
    in_flight = Withdrawal.objects.filter(
        worker_id=worker_id,
        status__in=[Withdrawal.Status.OPEN, Withdrawal.Status.PAYING],
    ).exclude(lightning_address="")
    if in_flight.exists():
        return None
    balance_msat = ledger.balance_msat(ledger.worker_available(worker_id))
    if balance_msat < max(config.threshold_msat, 1_000):
        return None

    def failed(reason: str) -> None:
        record_failure(config=config, reason=reason)

    try:
        pay_request = lnurl_pay.resolve(config.address)
    except lnurl_pay.AddressError as exc:
        failed(str(exc))
        return None
    amount_msat = min(balance_msat, pay_request.max_msat, settings.WITHDRAWAL_MAX_MSAT)
    amount_msat -= amount_msat % 1_000
    if amount_msat < max(pay_request.min_msat, 1_000):
        failed(_("The address accepts at least %(min)s msat.") % {"min": pay_request.min_msat})
        return None
    worker = Worker.objects.get(id=worker_id)
    try:
        withdrawal = create_withdrawal(
            worker=worker, amount_msat=amount_msat, lightning_address=config.address
        )
    except WithdrawalRefused:
        return None  # the balance moved meanwhile: the next run tries again
    try:
        invoice = lnurl_pay.fetch_invoice(pay_request, amount_msat=amount_msat)
        accepted = accept_withdrawal_invoice(k1=withdrawal.k1, pr=invoice.bolt11)
    except (lnurl_pay.AddressError, InvoiceRefused) as exc:
        return_hold(
            withdrawal=withdrawal,
            to_status=Withdrawal.Status.FAILED,
            from_status=Withdrawal.Status.OPEN,
            reason=str(exc),
        )
        failed(str(exc))
        withdrawal.refresh_from_db()
        return withdrawal
    except Exception:
        # Whatever else broke (a bug, the task's soft time limit), the held amount goes back now,
        # not when the withdrawal expires; only an open withdrawal is returned.
        return_hold(
            withdrawal=withdrawal,
            to_status=Withdrawal.Status.FAILED,
            from_status=Withdrawal.Status.OPEN,
            reason=str(UNEXPECTED_ERROR),
        )
        raise
    LightningAddress.objects.filter(id=config.id).update(last_error="", failures=0, retry_at=None)
    return accepted


def record_failure(*, config: LightningAddress, reason: str) -> None:
    """Notes a failed push (the reason is shown to the worker) and backs off exponentially."""
    delay = min(FIRST_BACKOFF * 2 ** min(config.failures, 20), MAX_BACKOFF)
    LightningAddress.objects.filter(id=config.id).update(
        last_error=reason[:1000],
        failures=F("failures") + 1,
        retry_at=timezone.now() + delay,
    )


def push_lightning_addresses(*, limit: int = 500) -> int:
    """The periodic job: every enabled address whose worker's balance reached its threshold
    and that is not backing off. One address failing never stops the others."""
    due = (
        LightningAddress.objects.filter(
            Q(retry_at__isnull=True) | Q(retry_at__lte=timezone.now()),
            enabled=True,
            worker__accounts__kind=Account.Kind.WORKER_AVAILABLE,
            worker__accounts__balance_msat__gte=F("threshold_msat"),
        )
        .order_by("id")
        .values_list("id", "worker_id")[:limit]
    )
    pushed = 0
    for config_id, worker_id in due:
        try:
            pushed += push_to_lightning_address(worker_id=worker_id) is not None
        except SoftTimeLimitExceeded:
            raise  # the task's time is up: stop here, the next run goes on
        except Exception:
            logger.exception("lightning address push failed for worker %s", worker_id)
            config = LightningAddress.objects.filter(id=config_id).first()
            if config is not None:
                record_failure(config=config, reason=str(UNEXPECTED_ERROR))
    return pushed
