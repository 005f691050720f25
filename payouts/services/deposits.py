"""Deposits: a requester's Lightning invoice, credited to its balance exactly once."""

import logging
from datetime import timedelta

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from labeling.models import Requester

from .. import ledger
from ..errors import BackendNotFake, DepositRefused
from ..lightning import InvoiceState, NodeError, get_backend
from ..lightning.fake import FakeBackend
from ..models import Deposit, Transfer

log = logging.getLogger(__name__)


def create_deposit(*, requester: Requester, amount_msat: int) -> Deposit:
    if not 1_000 <= amount_msat <= settings.DEPOSIT_MAX_MSAT:
        raise DepositRefused(
            {
                "amount_msat": [
                    f"A deposit is from 1000 msat (1 sat) to {settings.DEPOSIT_MAX_MSAT} msat."
                ]
            }
        )
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
            kind=Transfer.Kind.DEPOSIT,
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
    backend = get_backend()
    if not isinstance(backend, FakeBackend):
        raise BackendNotFake()
    backend.settle_invoice(payment_hash=deposit.payment_hash)
    return refresh_deposit(deposit=deposit)


def refresh_unpaid_deposits(*, max_age: timedelta = timedelta(days=2), limit: int = 500) -> int:
    since = timezone.now() - max_age
    credited = 0
    unpaid = Deposit.objects.filter(status=Deposit.Status.UNPAID, created_at__gte=since)
    for deposit in unpaid[:limit]:
        try:
            credited += refresh_deposit(deposit=deposit).status == Deposit.Status.PAID
        except Exception:  # one odd node answer must not stop the others
            log.exception("deposit %s: refresh failed; the next run tries again", deposit.id)
    return credited


def fund_requester(*, requester: Requester, amount_msat: int) -> Deposit:
    """Tests and demo data: a real deposit through the fake node, paid at once."""
    deposit = create_deposit(requester=requester, amount_msat=amount_msat)
    return simulate_deposit_payment(deposit=deposit)
