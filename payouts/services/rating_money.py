"""Rating money: a batch's cost reserved, each rating paid, held or returned, and what a
closed batch did not use released. Called by labeling's signals (payouts/receivers.py)."""

from django.db import IntegrityError, transaction

from labeling.models import Batch, Rating
from labeling.services import batches

from .. import ledger
from ..errors import InsufficientBalance
from ..models import Transfer

Kind = Transfer.Kind


def reserve_batch(*, batch: Batch) -> None:
    """Moves the batch's cost from the requester's available balance to its reservation;
    InsufficientBalance (402) rolls the batch back."""
    cost_msat = batches.cost_of(batch)
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


def pay_rating(*, rating: Rating, held: bool) -> None:
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


def return_held_rating(*, rating: Rating) -> None:
    """A held rating rejected: its reward leaves the worker's pending money. The item's slot
    reopens, so it goes back to the batch's reservation; a closed batch has no slots left
    to fill, so it goes straight back to the requester."""
    if rating.reward_msat <= 0:
        return
    batch = Batch.objects.only("id", "requester_id", "status").get(id=rating.batch_id)
    target = (
        ledger.requester_available(batch.requester_id)
        if batch.status in Batch.CLOSED_STATUSES
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
