"""Money moves when labeling announces a change; all inside labeling's transaction.
Sign-ins are remembered for "sign out everywhere"."""

from typing import Any

from django.contrib.auth.signals import user_logged_in
from django.dispatch import receiver
from django.http import HttpRequest

from labeling import signals
from labeling.models import Batch, Rating

from .services import lnurl_auth, rating_money


@receiver(user_logged_in, dispatch_uid="payouts.remember_session")
def remember_session(sender: Any, request: HttpRequest, user: Any, **kwargs: Any) -> None:
    if request is not None and request.session.session_key:
        lnurl_auth.remember_session(user=user, session_key=request.session.session_key)


@receiver(signals.batch_created, dispatch_uid="payouts.reserve_batch")
def reserve_batch(sender: Any, batch: Batch, **kwargs: Any) -> None:
    rating_money.reserve_batch(batch=batch)


@receiver(signals.batch_closed, dispatch_uid="payouts.release_batch")
def release_batch(sender: Any, batch: Batch, **kwargs: Any) -> None:
    rating_money.release_batch(batch=batch)


@receiver(signals.rating_held, dispatch_uid="payouts.hold_rating")
def hold_rating(sender: Any, rating: Rating, **kwargs: Any) -> None:
    rating_money.hold_rating(rating=rating)


@receiver(signals.rating_approved, dispatch_uid="payouts.pay_rating")
def pay_rating(sender: Any, rating: Rating, held: bool, **kwargs: Any) -> None:
    rating_money.pay_rating(rating=rating, held=held)


@receiver(signals.rating_rejected, dispatch_uid="payouts.return_held_rating")
def return_held_rating(sender: Any, rating: Rating, **kwargs: Any) -> None:
    rating_money.return_held_rating(rating=rating)
