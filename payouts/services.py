"""Every write of the payouts app: money flows of batches and ratings, deposits,
withdrawals and their payment. Each service moves money only through `ledger.transfer`.

Fee policy: a worker who withdraws N msat is debited exactly N; the Lightning routing fee
is the platform's cost, booked from the `system:fees` account, and capped per payment by
PAYOUT_FEE_LIMIT_BASE_MSAT + PAYOUT_FEE_LIMIT_PPM.
"""

import logging
import secrets
from datetime import datetime, timedelta

from django.conf import settings
from django.db import IntegrityError, connection, transaction
from django.db.models import F
from django.utils import timezone

from labeling import rows
from labeling.errors import InsufficientBalance
from labeling.models import Batch, Rating, Requester, Worker

from . import ledger, lightning_address
from .errors import BackendNotFake, DepositRefused, InvoiceRefused, WithdrawalRefused
from .invoices import check_invoice, decode_invoice
from .lightning import (
    InvoiceState,
    NodeError,
    NodeTimeout,
    NodeUnavailable,
    PaymentResult,
    PaymentState,
    get_backend,
)
from .models import Account, Deposit, LightningAddress, Transfer, Withdrawal

log = logging.getLogger(__name__)
Kind = Transfer.Kind
MAX_AMOUNT_MSAT = 2_100_000_000_000_000_000  # 21M BTC: anything above is not money


# --- batches and ratings (called by the labeling signals) ------------------------------


def reserve_batch(*, batch: Batch) -> None:
    """Moves the batch's cost from the requester's available balance to its reservation;
    InsufficientBalance (402) rolls the batch back."""
    cost_msat = batch.cost_msat
    if cost_msat <= 0:
        return
    ledger.transfer(
        kind=Kind.RESERVE,
        reference=f"batch:{batch.id}",
        legs=[
            (ledger.requester_available(batch.requester_id), -cost_msat),
            (ledger.batch_reserved(batch.id), cost_msat),
        ],
        batch_id=batch.id,
    )


def pay_rating(*, rating: Rating, held: bool = False) -> None:
    """An approved rating's reward becomes the worker's to withdraw: from the batch's
    reservation, or from the worker's pending money when the rating had been held."""
    if rating.reward_msat <= 0:
        return
    source = (
        ledger.worker_pending(rating.worker_id) if held else ledger.batch_reserved(rating.batch_id)
    )
    ledger.transfer(
        kind=Kind.APPROVE_HELD if held else Kind.PAY_RATING,
        reference=f"rating:{rating.id}",
        legs=[
            (source, -rating.reward_msat),
            (ledger.worker_available(rating.worker_id), rating.reward_msat),
        ],
        batch_id=rating.batch_id,
    )


def hold_rating(*, rating: Rating) -> None:
    """A rating held for review: its reward waits as the worker's pending money."""
    if rating.reward_msat <= 0:
        return
    ledger.transfer(
        kind=Kind.HOLD_RATING,
        reference=f"rating:{rating.id}",
        legs=[
            (ledger.batch_reserved(rating.batch_id), -rating.reward_msat),
            (ledger.worker_pending(rating.worker_id), rating.reward_msat),
        ],
        batch_id=rating.batch_id,
    )


def refund_rating(*, rating: Rating, held: bool = False) -> None:
    """A rejected rating's reward. Held: back to the batch's reservation (its slot reopens
    for another worker). Otherwise back to the requester: from the reservation if it was
    never paid, else from the worker's available balance."""
    if rating.reward_msat <= 0:
        return
    batch = Batch.objects.only("id", "requester_id", "status").get(id=rating.batch_id)
    if held:
        # The slot reopens, so the money goes back to the reservation; a closed batch has
        # no slots left to fill, so it goes straight back to the requester.
        target = (
            ledger.requester_available(batch.requester_id)
            if batch.status in CLOSED_BATCH
            else ledger.batch_reserved(batch.id)
        )
        ledger.transfer(
            kind=Kind.REJECT_HELD,
            reference=f"rating:{rating.id}",
            legs=[
                (ledger.worker_pending(rating.worker_id), -rating.reward_msat),
                (target, rating.reward_msat),
            ],
            batch_id=rating.batch_id,
        )
        return
    requester_id = batch.requester_id
    paid = Transfer.objects.filter(
        kind__in=[Kind.PAY_RATING, Kind.APPROVE_HELD], reference=f"rating:{rating.id}"
    ).exists()
    source = (
        ledger.worker_available(rating.worker_id)
        if paid
        else ledger.batch_reserved(rating.batch_id)
    )
    ledger.transfer(
        kind=Kind.CLAWBACK_RATING if paid else Kind.REFUND_RATING,
        reference=f"rating:{rating.id}",
        legs=[
            (source, -rating.reward_msat),
            (ledger.requester_available(requester_id), rating.reward_msat),
        ],
        batch_id=rating.batch_id,
    )


CLOSED_BATCH = (Batch.Status.CANCELLED, Batch.Status.COMPLETED)


def release_batch(*, batch: Batch) -> int:
    """Returns what is left of a closed (cancelled or completed) batch's reservation, such
    as unused bonus, to the requester. Safe to call again: it moves only what is left."""
    left_msat = ledger.balance_msat(ledger.batch_reserved(batch.id))
    if left_msat <= 0:
        return 0
    releases = Transfer.objects.filter(kind=Kind.RELEASE_BATCH, batch_id=batch.id).count()
    try:
        with transaction.atomic():
            ledger.transfer(
                kind=Kind.RELEASE_BATCH,
                reference=f"batch:{batch.id}:{releases + 1}",
                legs=[
                    (ledger.batch_reserved(batch.id), -left_msat),
                    (ledger.requester_available(batch.requester_id), left_msat),
                ],
                batch_id=batch.id,
            )
    except (InsufficientBalance, IntegrityError):
        return 0  # a concurrent payment or release moved it first; the next call retries
    return left_msat


# --- deposits ---------------------------------------------------------------------------


def create_deposit(*, requester: Requester, amount_msat: int) -> Deposit:
    if not 1_000 <= amount_msat <= MAX_AMOUNT_MSAT:
        raise DepositRefused({"amount_msat": ["A deposit is at least 1000 msat (1 sat)."]})
    try:
        invoice = get_backend().create_invoice(
            amount_msat=amount_msat,
            memo=f"Deposit to the RLHF marketplace ({requester})",
            expiry_seconds=settings.DEPOSIT_INVOICE_EXPIRY_SECONDS,
        )
    except NodeError as exc:
        raise DepositRefused("The Lightning node is not available; try again.") from exc
    return Deposit.objects.create(
        requester=requester,
        amount_msat=amount_msat,
        bolt11=invoice.bolt11,
        payment_hash=invoice.payment_hash,
        created_at=timezone.now(),
        expires_at=invoice.expires_at,
    )


def credit_deposit(*, deposit: Deposit) -> bool:
    """Marks a deposit paid and credits the requester, exactly once. True if it did."""
    now = timezone.now()
    with transaction.atomic():
        if not Deposit.objects.filter(
            id=deposit.id, status__in=[Deposit.Status.UNPAID, Deposit.Status.EXPIRED]
        ).update(status=Deposit.Status.PAID, paid_at=now):
            return False
        ledger.transfer(
            kind=Kind.DEPOSIT,
            reference=f"deposit:{deposit.id}",
            legs=[
                (ledger.LIGHTNING_IN, -deposit.amount_msat),
                (ledger.requester_available(deposit.requester_id), deposit.amount_msat),
            ],
        )
    deposit.status, deposit.paid_at = Deposit.Status.PAID, now
    return True


def refresh_deposit(*, deposit: Deposit) -> Deposit:
    """Asks the node about an unpaid deposit and credits it when paid."""
    if deposit.status == Deposit.Status.PAID:
        return deposit
    try:
        state = get_backend().invoice_status(payment_hash=deposit.payment_hash)
    except (NodeError, KeyError):
        log.warning("deposit %s: node status unavailable", deposit.id)
        return deposit
    if state == InvoiceState.PAID:
        credit_deposit(deposit=deposit)
    elif state == InvoiceState.EXPIRED and deposit.status == Deposit.Status.UNPAID:
        Deposit.objects.filter(id=deposit.id, status=Deposit.Status.UNPAID).update(
            status=Deposit.Status.EXPIRED
        )
        deposit.status = Deposit.Status.EXPIRED
    return deposit


def simulate_deposit_payment(*, deposit: Deposit) -> Deposit:
    """The fake node only: a payer pays the deposit's invoice."""
    from .lightning.fake import FakeBackend

    backend = get_backend()
    if not isinstance(backend, FakeBackend):
        raise BackendNotFake()
    backend.settle_invoice(payment_hash=deposit.payment_hash)
    return refresh_deposit(deposit=deposit)


def refresh_unpaid_deposits(*, max_age: timedelta = timedelta(days=2), limit: int = 500) -> int:
    since = timezone.now() - max_age
    credited = 0
    for deposit in Deposit.objects.filter(status=Deposit.Status.UNPAID, created_at__gte=since)[
        :limit
    ]:
        credited += refresh_deposit(deposit=deposit).status == Deposit.Status.PAID
    return credited


def fund_requester(*, requester: Requester, amount_msat: int) -> Deposit:
    """Tests and demo data: a real deposit through the fake node, paid at once."""
    deposit = create_deposit(requester=requester, amount_msat=amount_msat)
    return simulate_deposit_payment(deposit=deposit)


# --- withdrawals ------------------------------------------------------------------------


def create_withdrawal(
    *, worker: Worker, amount_msat: int | None = None, lightning_address: str = ""
) -> Withdrawal:
    """Holds the amount (default: the whole available balance) and opens an LNURL-withdraw."""
    if amount_msat is None:
        amount_msat = ledger.balance_msat(ledger.worker_available(worker.id))
        if amount_msat <= 0:
            raise WithdrawalRefused({"amount_msat": ["There is nothing to withdraw."]})
    if isinstance(amount_msat, bool) or not isinstance(amount_msat, int):
        raise WithdrawalRefused({"amount_msat": ["A whole number of millisatoshis."]})
    if amount_msat <= 0:
        raise WithdrawalRefused({"amount_msat": ["The amount must be positive."]})
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
        raise WithdrawalRefused({"amount_msat": ["The amount exceeds your balance."]}) from exc
    return withdrawal


def open_withdrawal(*, k1: str) -> Withdrawal:
    """The withdrawal a wallet may still draw on; InvoiceRefused (an LNURL reason) if none."""
    withdrawal = Withdrawal.objects.filter(k1=k1).first() if k1 else None
    if withdrawal is None:
        raise InvoiceRefused("Unknown k1.")
    if withdrawal.status != Withdrawal.Status.OPEN:
        raise InvoiceRefused("This withdrawal link was already used.")
    if withdrawal.expires_at <= timezone.now():
        raise InvoiceRefused("This withdrawal link has expired.")
    return withdrawal


def accept_withdrawal_invoice(*, k1: str, pr: str) -> Withdrawal:
    """The LUD-03 callback: checks the invoice, enters `paying` once, queues the payment.

    The invoice already accepted for this k1, sent again (wallets retry), is accepted
    again and changes nothing. Raises InvoiceRefused with the reason for the wallet."""
    withdrawal = _withdrawal_by_k1(k1)
    if withdrawal is None:
        raise InvoiceRefused("Unknown k1.")
    decoded = decode_invoice(pr)
    if withdrawal.status != Withdrawal.Status.OPEN:
        return _already_claimed(withdrawal, decoded.payment_hash)
    now = timezone.now()
    if withdrawal.expires_at <= now:
        raise InvoiceRefused("This withdrawal link has expired.")
    invoice = check_invoice(
        pr, min_msat=withdrawal.amount_msat, max_msat=withdrawal.amount_msat, decoded=decoded
    )
    try:
        with transaction.atomic():
            at = connection.ops.adapt_datetimefield_value(now)
            claimed = rows.execute(
                "UPDATE payouts_withdrawal SET status = %s, bolt11 = %s, payment_hash = %s,"
                " invoice_accepted_at = %s WHERE id = %s AND status = %s AND expires_at > %s",
                [
                    Withdrawal.Status.PAYING,
                    invoice.bolt11,
                    invoice.payment_hash,
                    at,
                    withdrawal.id,
                    Withdrawal.Status.OPEN,
                    at,
                ],
            )
            if claimed:
                transaction.on_commit(lambda: _queue_payment(withdrawal.id))
    except IntegrityError as exc:  # this invoice is already another withdrawal's
        raise InvoiceRefused("This invoice was already used.") from exc
    if not claimed:
        withdrawal.refresh_from_db()
        return _already_claimed(withdrawal, invoice.payment_hash)
    withdrawal.status = Withdrawal.Status.PAYING
    withdrawal.bolt11, withdrawal.payment_hash = invoice.bolt11, invoice.payment_hash
    withdrawal.invoice_accepted_at = now
    return withdrawal


def _withdrawal_by_k1(k1: str) -> Withdrawal | None:
    # Plain SQL: the wallet callback is the hot path of every payout.
    row = rows.fetch(
        f"SELECT {rows.columns(Withdrawal, 'w')} FROM payouts_withdrawal w WHERE w.k1 = %s",
        [k1],
    )
    return rows.from_row(Withdrawal, row)[0] if row else None


def _already_claimed(withdrawal: Withdrawal, payment_hash: str) -> Withdrawal:
    retry = withdrawal.payment_hash == payment_hash and withdrawal.status in (
        Withdrawal.Status.PAYING,
        Withdrawal.Status.PAID,
    )
    if retry:
        return withdrawal
    if withdrawal.status == Withdrawal.Status.EXPIRED:
        raise InvoiceRefused("This withdrawal link has expired.")
    raise InvoiceRefused("This withdrawal link was already used.")


def _queue_payment(withdrawal_id: int) -> None:
    from .tasks import pay_withdrawal

    pay_withdrawal.delay(withdrawal_id=withdrawal_id)


def fee_limit_msat(amount_msat: int) -> int:
    return settings.PAYOUT_FEE_LIMIT_BASE_MSAT + amount_msat * settings.PAYOUT_FEE_LIMIT_PPM // (
        1_000_000
    )


def pay_withdrawal(*, withdrawal_id: int) -> str:
    """Sends a `paying` withdrawal's payment, at most once, and records the outcome.

    Returns the withdrawal's status. Raises NodeUnavailable when the node could not be
    reached before anything was sent (the job retries with backoff)."""
    now = timezone.now()
    # Claim the one send. A second run (redelivered job, reconcile) finds it claimed and
    # only asks the node what became of the payment.
    row = rows.fetch(
        "UPDATE payouts_withdrawal SET send_started_at = %s"
        " WHERE id = %s AND status = %s AND send_started_at IS NULL"
        f" RETURNING {rows.columns(Withdrawal, 'payouts_withdrawal')}",
        [connection.ops.adapt_datetimefield_value(now), withdrawal_id, Withdrawal.Status.PAYING],
    )
    if row is None:
        return reconcile_withdrawal(withdrawal_id=withdrawal_id)
    withdrawal = rows.from_row(Withdrawal, row)[0]
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
    if result.state == PaymentState.FAILED and _mark_failed(
        withdrawal=withdrawal, reason=result.reason or "payment failed"
    ):
        return Withdrawal.Status.FAILED
    return Withdrawal.objects.values_list("status", flat=True).get(id=withdrawal.id)


def _mark_paid(*, withdrawal: Withdrawal, result: PaymentResult) -> bool:
    fee_msat = max(int(result.fee_msat), 0)
    with transaction.atomic():
        paid = rows.execute(
            "UPDATE payouts_withdrawal SET status = %s, fee_msat = %s, preimage = %s,"
            " finished_at = %s WHERE id = %s AND status = %s",
            [
                Withdrawal.Status.PAID,
                fee_msat,
                result.preimage[:64],
                connection.ops.adapt_datetimefield_value(timezone.now()),
                withdrawal.id,
                Withdrawal.Status.PAYING,
            ],
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


def _return_hold(*, withdrawal: Withdrawal, to_status: str, from_status: str, reason: str) -> bool:
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


def _mark_failed(*, withdrawal: Withdrawal, reason: str) -> bool:
    return _return_hold(
        withdrawal=withdrawal,
        to_status=Withdrawal.Status.FAILED,
        from_status=Withdrawal.Status.PAYING,
        reason=reason,
    )


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
            _queue_payment(withdrawal.id)
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
            _queue_payment(withdrawal.id)
        return withdrawal.status
    return record_payment(withdrawal=withdrawal, result=result)


def expire_withdrawals(*, now: datetime | None = None, limit: int = 1000) -> int:
    """Open withdrawals nobody drew on in time: expired, their hold returned."""
    now = now or timezone.now()
    stale = Withdrawal.objects.filter(status=Withdrawal.Status.OPEN, expires_at__lte=now)
    expired = 0
    for withdrawal in stale.only("id", "worker_id", "amount_msat")[:limit]:
        expired += _return_hold(
            withdrawal=withdrawal,
            to_status=Withdrawal.Status.EXPIRED,
            from_status=Withdrawal.Status.OPEN,
            reason="Not drawn before it expired.",
        )
    return expired


def reconcile_payouts(*, now: datetime | None = None, limit: int = 1000) -> dict[str, int]:
    """The periodic job: finish `paying` rows from the node, expire stale open ones,
    and credit deposits the node reports paid."""
    now = now or timezone.now()
    finished = 0
    paying = Withdrawal.objects.filter(status=Withdrawal.Status.PAYING).order_by("id")
    for withdrawal_id in paying.values_list("id", flat=True)[:limit]:
        finished += reconcile_withdrawal(withdrawal_id=withdrawal_id, now=now) != "paying"
    return {
        "finished": finished,
        "expired": expire_withdrawals(now=now, limit=limit),
        "deposits_credited": refresh_unpaid_deposits(),
    }


# --- Lightning Address push (LUD-16) ----------------------------------------------------


def set_lightning_address(
    *, worker: Worker, address: str, threshold_msat: int = 1_000
) -> LightningAddress:
    """Saves the worker's address for automatic payouts once it resolves to a pay service."""
    address = address.strip().lower()
    if not 1_000 <= threshold_msat <= MAX_AMOUNT_MSAT:
        raise WithdrawalRefused({"threshold_msat": ["At least 1000 msat (1 sat)."]})
    try:
        lightning_address.resolve(address)
    except lightning_address.AddressError as exc:
        raise WithdrawalRefused({"address": [str(exc)]}) from exc
    config, _ = LightningAddress.objects.update_or_create(
        worker=worker,
        defaults={
            "address": address,
            "threshold_msat": threshold_msat,
            "enabled": True,
            "last_error": "",
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
        LightningAddress.objects.filter(id=config.id).update(last_error=reason[:1000])

    try:
        pay_request = lightning_address.resolve(config.address)
    except lightning_address.AddressError as exc:
        failed(str(exc))
        return None
    amount_msat = min(balance_msat, pay_request.max_msat)
    amount_msat -= amount_msat % 1_000
    if amount_msat < max(pay_request.min_msat, 1_000):
        failed(f"The address accepts at least {pay_request.min_msat} msat.")
        return None
    worker = Worker.objects.get(id=worker_id)
    try:
        withdrawal = create_withdrawal(
            worker=worker, amount_msat=amount_msat, lightning_address=config.address
        )
    except WithdrawalRefused:
        return None  # the balance moved meanwhile: the next run tries again
    try:
        invoice = lightning_address.fetch_invoice(pay_request, amount_msat=amount_msat)
        accepted = accept_withdrawal_invoice(k1=withdrawal.k1, pr=invoice.bolt11)
    except (lightning_address.AddressError, InvoiceRefused) as exc:
        _return_hold(
            withdrawal=withdrawal,
            to_status=Withdrawal.Status.FAILED,
            from_status=Withdrawal.Status.OPEN,
            reason=str(exc),
        )
        failed(str(exc))
        withdrawal.refresh_from_db()
        return withdrawal
    LightningAddress.objects.filter(id=config.id).update(last_error="")
    return accepted


def push_lightning_addresses(*, limit: int = 500) -> int:
    """The periodic job: every enabled address whose worker's balance reached its threshold."""
    due = LightningAddress.objects.filter(
        enabled=True,
        worker__accounts__kind=Account.Kind.WORKER_AVAILABLE,
        worker__accounts__balance_msat__gte=F("threshold_msat"),
    ).values_list("worker_id", flat=True)[:limit]
    return sum(push_to_lightning_address(worker_id=worker_id) is not None for worker_id in due)
