"""Money moves when labeling announces a change; all inside labeling's transaction."""

from typing import Any

from django.db.models.signals import post_save
from django.dispatch import receiver

from labeling import signals
from labeling.models import Batch, Rating, Worker

from . import ledger, services


@receiver(signals.batch_created, dispatch_uid="payouts.reserve_batch")
def reserve_batch(sender: Any, batch: Batch, **kwargs: Any) -> None:
    services.reserve_batch(batch=batch)


@receiver(signals.rating_held, dispatch_uid="payouts.hold_rating")
def hold_rating(sender: Any, rating: Rating, **kwargs: Any) -> None:
    services.hold_rating(rating=rating)


@receiver(signals.rating_approved, dispatch_uid="payouts.pay_rating")
def pay_rating(sender: Any, rating: Rating, held: bool = False, **kwargs: Any) -> None:
    services.pay_rating(rating=rating, held=held)


@receiver(signals.rating_rejected, dispatch_uid="payouts.refund_rating")
def refund_rating(sender: Any, rating: Rating, held: bool = False, **kwargs: Any) -> None:
    services.refund_rating(rating=rating, held=held)


@receiver(post_save, sender=Batch, dispatch_uid="payouts.release_closed_batch")
def release_closed_batch(sender: Any, instance: Batch, created: bool, **kwargs: Any) -> None:
    # Labeling has no cancel/complete signal: a batch saved as cancelled or completed (admin)
    # releases what is left of its reservation (unpaid slots, unused bonus).
    if not created and instance.status in services.CLOSED_BATCH:
        services.release_batch(batch=instance)


@receiver(post_save, sender=Worker, dispatch_uid="payouts.open_worker_accounts")
def open_worker_accounts(sender: Any, instance: Worker, created: bool, **kwargs: Any) -> None:
    # Opened up front so that paying a rating is a fixed few UPDATEs and INSERTs.
    if created:
        ledger.open_accounts(
            ledger.worker_available(instance.id),
            ledger.worker_held(instance.id),
            ledger.worker_pending(instance.id),
        )
