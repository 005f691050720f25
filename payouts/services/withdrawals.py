"""Withdrawals (LNURL-withdraw, LUD-03): held from the balance, claimed once by the
wallet's invoice, paid at most once by the payment job, finished by reconcile.

A withdrawal is open → paying → paid | failed | expired. `paying` is entered once, by a
conditional UPDATE on the k1, before any job is queued; the job claims the one send;
reconcile asks the node by payment hash and never sends a payment that may have been sent.

Fee policy: a worker who withdraws N msat is debited exactly N; the Lightning routing fee
is the platform's cost, booked from the `system:fees` account, and capped per payment by
PAYOUT_FEE_LIMIT_BASE_MSAT + PAYOUT_FEE_LIMIT_PPM.
"""

import logging
import secrets
from datetime import datetime, timedelta

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from core import jobs
from labeling.models import Worker

from .. import ledger, sql
from ..errors import InsufficientBalance, InvoiceRefused, WithdrawalRefused
from ..invoices import check_invoice, decode_invoice
from ..lightning import (
    NodeError,
    NodeTimeout,
    NodeUnavailable,
    PaymentResult,
    PaymentState,
    get_backend,
)
from ..models import Transfer, Withdrawal
from .deposits import refresh_unpaid_deposits

log = logging.getLogger(__name__)
Kind = Transfer.Kind
PAY_JOB = "payouts.pay_withdrawal"
# What a wallet is told when a withdrawal link cannot be drawn on (LNURL ERROR reasons).
UNKNOWN_K1 = "Unknown k1."
LINK_USED = "This withdrawal link was already used."
LINK_EXPIRED = "This withdrawal link has expired."


def create_withdrawal(
    *, worker: Worker, amount_msat: int | None = None, lightning_address: str = ""
) -> Withdrawal:
    """Holds the amount and opens an LNURL-withdraw. Without an amount: the whole available
    balance rounded down to whole sats, because wallets invoice whole sats."""
    if amount_msat is None:
        balance_msat = ledger.balance_msat(ledger.worker_available(worker.id))
        if balance_msat <= 0:
            raise WithdrawalRefused({"amount_msat": [_("There is nothing to withdraw.")]})
        if balance_msat < 1_000:
            raise WithdrawalRefused(
                {"amount_msat": [_("Less than 1 sat to withdraw: wallets take whole sats.")]}
            )
        # A balance above the per-withdrawal maximum is taken out in several withdrawals.
        amount_msat = min(balance_msat, settings.WITHDRAWAL_MAX_MSAT)
        amount_msat -= amount_msat % 1_000
    if isinstance(amount_msat, bool) or not isinstance(amount_msat, int):
        raise WithdrawalRefused({"amount_msat": [_("A whole number of millisatoshis.")]})
    if amount_msat <= 0:
        raise WithdrawalRefused({"amount_msat": [_("The amount must be positive.")]})
    if amount_msat > settings.WITHDRAWAL_MAX_MSAT:
        raise WithdrawalRefused(
            {
                "amount_msat": [
                    _("At most %(max)s msat per withdrawal.")
                    % {"max": settings.WITHDRAWAL_MAX_MSAT}
                ]
            }
        )
    now = timezone.now()
    try:
        with transaction.atomic():
            withdrawal = Withdrawal.objects.create(
                worker=worker,
                k1=secrets.token_hex(32),
                amount_msat=amount_msat,
                created_at=now,
                expires_at=now + timedelta(seconds=settings.PAYOUT_WITHDRAWAL_TTL_SECONDS),
                lightning_address=lightning_address,
            )
            ledger.transfer(
                kind=Kind.WITHDRAWAL_HOLD,
                reference=f"withdrawal:{withdrawal.id}",
                legs=[
                    (ledger.worker_available(worker.id), -amount_msat),
                    (ledger.worker_held(worker.id), amount_msat),
                ],
            )
    except InsufficientBalance as exc:
        raise WithdrawalRefused({"amount_msat": [_("The amount exceeds your balance.")]}) from exc
    return withdrawal


def open_withdrawal(*, k1: str) -> Withdrawal:
    """The withdrawal a wallet may still draw on; InvoiceRefused (an LNURL reason) if none."""
    withdrawal = sql.withdrawal_by_k1(k1=k1) if k1 else None
    if withdrawal is None:
        raise InvoiceRefused(UNKNOWN_K1)
    if withdrawal.status != Withdrawal.Status.OPEN:
        raise InvoiceRefused(LINK_USED)
    if withdrawal.expires_at <= timezone.now():
        raise InvoiceRefused(LINK_EXPIRED)
    return withdrawal


def accept_withdrawal_invoice(*, k1: str, pr: str) -> Withdrawal:
    """The LUD-03 callback: checks the invoice, enters `paying` once, queues the payment.

    The invoice already accepted for this k1, sent again (wallets retry), is accepted
    again and changes nothing. Raises InvoiceRefused with the reason for the wallet."""
    withdrawal = sql.withdrawal_by_k1(k1=k1)
    if withdrawal is None:
        raise InvoiceRefused(UNKNOWN_K1)
    decoded = decode_invoice(pr)
    if withdrawal.status != Withdrawal.Status.OPEN:
        return _already_claimed(withdrawal, decoded.payment_hash)
    now = timezone.now()
    if withdrawal.expires_at <= now:
        raise InvoiceRefused(LINK_EXPIRED)
    invoice = check_invoice(
        pr, min_msat=withdrawal.amount_msat, max_msat=withdrawal.amount_msat, decoded=decoded
    )
    try:
        with transaction.atomic():
            claimed = sql.enter_paying(
                withdrawal_id=withdrawal.id,
                bolt11=invoice.bolt11,
                payment_hash=invoice.payment_hash,
                now=now,
            )
            if claimed:
                jobs.enqueue(PAY_JOB, withdrawal_id=withdrawal.id)
    except IntegrityError as exc:  # this invoice is already another withdrawal's
        raise InvoiceRefused("This invoice was already used.") from exc
    if not claimed:
        withdrawal.refresh_from_db()
        return _already_claimed(withdrawal, invoice.payment_hash)
    withdrawal.status = Withdrawal.Status.PAYING
    withdrawal.bolt11, withdrawal.payment_hash = invoice.bolt11, invoice.payment_hash
    withdrawal.invoice_accepted_at = now
    return withdrawal


def _already_claimed(withdrawal: Withdrawal, payment_hash: str) -> Withdrawal:
    retry = withdrawal.payment_hash == payment_hash and withdrawal.status in (
        Withdrawal.Status.PAYING,
        Withdrawal.Status.PAID,
    )
    if retry:
        return withdrawal
    if withdrawal.status == Withdrawal.Status.EXPIRED:
        raise InvoiceRefused(LINK_EXPIRED)
    raise InvoiceRefused(LINK_USED)


def fee_limit_msat(amount_msat: int) -> int:
    return settings.PAYOUT_FEE_LIMIT_BASE_MSAT + amount_msat * settings.PAYOUT_FEE_LIMIT_PPM // (
        1_000_000
    )


def pay_withdrawal(*, withdrawal_id: int) -> str:
    """Sends a `paying` withdrawal's payment, at most once, and records the outcome.

    Returns the withdrawal's status. Raises NodeUnavailable when the node could not be
    reached before anything was sent (the job retries with backoff)."""
    # Claim the one send. A second run (redelivered job, reconcile) finds it claimed and
    # only asks the node what became of the payment.
    withdrawal = sql.claim_send(withdrawal_id=withdrawal_id, now=timezone.now())
    if withdrawal is None:
        return reconcile_withdrawal(withdrawal_id=withdrawal_id)
    try:
        result = get_backend().pay_invoice(
            bolt11=withdrawal.bolt11,
            idempotency_key=withdrawal.payment_hash or "",
            max_fee_msat=fee_limit_msat(withdrawal.amount_msat),
        )
    except NodeUnavailable:
        # Nothing left the node: release the claim so the retry may send.
        Withdrawal.objects.filter(id=withdrawal_id, status=Withdrawal.Status.PAYING).update(
            send_started_at=None
        )
        raise
    except NodeTimeout:
        log.warning("withdrawal %s: node timed out; left paying for reconcile", withdrawal_id)
        return Withdrawal.Status.PAYING
    except NodeError as exc:
        log.warning("withdrawal %s: node error %s; left paying", withdrawal_id, exc)
        return Withdrawal.Status.PAYING
    return record_payment(withdrawal=withdrawal, result=result)


def record_payment(*, withdrawal: Withdrawal, result: PaymentResult) -> str:
    """Finishes a `paying` withdrawal from the node's answer (once; later calls no-op)."""
    if result.state == PaymentState.SUCCEEDED and _mark_paid(withdrawal=withdrawal, result=result):
        return Withdrawal.Status.PAID
    if result.state == PaymentState.FAILED and return_hold(
        withdrawal=withdrawal,
        to_status=Withdrawal.Status.FAILED,
        from_status=Withdrawal.Status.PAYING,
        reason=result.reason or "payment failed",
    ):
        return Withdrawal.Status.FAILED
    return Withdrawal.objects.values_list("status", flat=True).get(id=withdrawal.id)


def _mark_paid(*, withdrawal: Withdrawal, result: PaymentResult) -> bool:
    fee_msat = max(int(result.fee_msat), 0)
    with transaction.atomic():
        paid = sql.mark_paid(
            withdrawal_id=withdrawal.id,
            fee_msat=fee_msat,
            preimage=result.preimage[:64],
            now=timezone.now(),
        )
        if not paid:
            return False
        legs = [
            (ledger.worker_held(withdrawal.worker_id), -withdrawal.amount_msat),
            (ledger.LIGHTNING_OUT, withdrawal.amount_msat + fee_msat),
        ]
        if fee_msat:
            legs.append((ledger.FEES, -fee_msat))
        ledger.transfer(
            kind=Kind.WITHDRAWAL_PAID, reference=f"withdrawal:{withdrawal.id}", legs=legs
        )
    return True


def return_hold(*, withdrawal: Withdrawal, to_status: str, from_status: str, reason: str) -> bool:
    """Ends a withdrawal that paid nothing (failed, expired) and gives its amount back."""
    with transaction.atomic():
        if not Withdrawal.objects.filter(id=withdrawal.id, status=from_status).update(
            status=to_status, failure_reason=reason[:1000], finished_at=timezone.now()
        ):
            return False
        ledger.transfer(
            kind=Kind.WITHDRAWAL_RETURN,
            reference=f"withdrawal:{withdrawal.id}",
            legs=[
                (ledger.worker_held(withdrawal.worker_id), -withdrawal.amount_msat),
                (ledger.worker_available(withdrawal.worker_id), withdrawal.amount_msat),
            ],
        )
    return True


def reconcile_withdrawal(*, withdrawal_id: int, now: datetime | None = None) -> str:
    """Finishes a `paying` withdrawal from the node's record of its payment hash.

    Never sends a payment that may have been sent: it re-queues the job only when the job
    never claimed the send, or when the node has no record of the hash long after the claim
    (the process died between claim and send; the node pays a hash at most once anyway)."""
    now = now or timezone.now()
    withdrawal = Withdrawal.objects.get(id=withdrawal_id)
    if withdrawal.status != Withdrawal.Status.PAYING:
        return withdrawal.status
    if withdrawal.send_started_at is None:
        accepted = withdrawal.invoice_accepted_at or now
        if now - accepted >= timedelta(seconds=settings.PAYOUT_REQUEUE_AFTER_SECONDS):
            jobs.enqueue(PAY_JOB, withdrawal_id=withdrawal.id)
        return withdrawal.status
    try:
        result = get_backend().payment_status(payment_hash=withdrawal.payment_hash or "")
    except NodeError as exc:
        log.warning("withdrawal %s: cannot reconcile now: %s", withdrawal_id, exc)
        return withdrawal.status
    if result.state == PaymentState.NOT_FOUND:
        if now - withdrawal.send_started_at >= timedelta(
            seconds=settings.PAYOUT_RESEND_AFTER_SECONDS
        ) and Withdrawal.objects.filter(
            id=withdrawal.id,
            status=Withdrawal.Status.PAYING,
            send_started_at=withdrawal.send_started_at,
        ).update(send_started_at=None):
            jobs.enqueue(PAY_JOB, withdrawal_id=withdrawal.id)
        return withdrawal.status
    return record_payment(withdrawal=withdrawal, result=result)


def expire_withdrawals(*, now: datetime | None = None, limit: int = 1000) -> int:
    """Open withdrawals nobody drew on in time: expired, their hold returned."""
    now = now or timezone.now()
    stale = Withdrawal.objects.filter(status=Withdrawal.Status.OPEN, expires_at__lte=now)
    expired = 0
    for withdrawal in stale.only("id", "worker_id", "amount_msat")[:limit]:
        expired += return_hold(
            withdrawal=withdrawal,
            to_status=Withdrawal.Status.EXPIRED,
            from_status=Withdrawal.Status.OPEN,
            reason="Not drawn before it expired.",
        )
    return expired


def reconcile_payouts(*, now: datetime | None = None, limit: int = 1000) -> dict[str, int]:
    """The periodic job: finish `paying` rows from the node, expire stale open ones,
    and credit deposits the node reports paid. One row or duty that fails (a node answer
    nobody expected, a bug) is logged and counted in `errors`; the others still run."""
    now = now or timezone.now()
    found = {"finished": 0, "expired": 0, "deposits_credited": 0, "errors": 0}
    paying = Withdrawal.objects.filter(status=Withdrawal.Status.PAYING).order_by("id")
    for withdrawal_id in paying.values_list("id", flat=True)[:limit]:
        try:
            found["finished"] += (
                reconcile_withdrawal(withdrawal_id=withdrawal_id, now=now) != "paying"
            )
        except Exception:
            log.exception(
                "reconcile: withdrawal %s failed; the next run tries again", withdrawal_id
            )
            found["errors"] += 1
    duties = {
        "expired": lambda: expire_withdrawals(now=now, limit=limit),
        "deposits_credited": refresh_unpaid_deposits,
    }
    for name, duty in duties.items():
        try:
            found[name] = duty()
        except Exception:
            log.exception("reconcile: %s failed; the next run tries again", name)
            found["errors"] += 1
    return found
