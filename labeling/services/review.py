"""Review: ratings approved or rejected (by rules, by trust, by the requester), and the
evidence behind trust (gold answers, agreement with the aggregated answer).

Money follows the signals sent here (approved → available, rejected → back to the
batch's reservation), inside the same transaction as the status change.
"""

from datetime import datetime, timedelta
from typing import Any

from django.db import transaction
from django.db.models import F, Q, Sum
from django.utils import timezone

from core import jobs
from core.errors import DomainError, NotFound

from .. import selectors, signals
from ..errors import NotReviewable
from ..models import Batch, BatchWorkerStats, Rating, Requester, TrustSnapshot, Worker
from ..quality import trust
from ..quality.aggregation import dawid_skene
from .assignments import free_slot


def record_gold(*, worker: Worker, batch: Batch, correct: bool) -> None:
    """Counts a gold answer for the worker overall and in this batch (its entry test);
    the worker's waiting ratings are reviewed again once this commits."""
    Worker.objects.filter(id=worker.id).update(
        gold_seen=F("gold_seen") + 1, gold_correct=F("gold_correct") + int(correct)
    )
    stats, _ = BatchWorkerStats.objects.get_or_create(batch=batch, worker=worker)
    BatchWorkerStats.objects.filter(id=stats.id).update(
        gold_seen=F("gold_seen") + 1, gold_correct=F("gold_correct") + int(correct)
    )
    seen, right = stats.gold_seen + 1, stats.gold_correct + int(correct)
    if stats.qualified is None and 0 < batch.qualification_size <= seen:
        BatchWorkerStats.objects.filter(id=stats.id, qualified__isnull=True).update(
            qualified=right >= batch.qualification_pass * batch.qualification_size
        )
    jobs.enqueue("labeling.review_worker", worker_id=worker.id)


def _decide(*, rating: Rating, status: str, reason: str = "", reviewer: Any = None) -> bool:
    """Moves a pending rating to approved/rejected exactly once; False if already decided."""
    now = timezone.now()
    changed = Rating.objects.filter(id=rating.id, status=Rating.Status.PENDING_REVIEW).update(
        status=status, reason=reason, reviewed_at=now, reviewed_by=reviewer
    )
    if not changed:
        return False
    rating.status, rating.reason, rating.reviewed_at = status, reason, now
    if status == Rating.Status.APPROVED:
        signals.rating_approved.send(sender=Rating, rating=rating, held=True)
    else:
        free_slot(item_id=rating.item_id)
        signals.rating_rejected.send(sender=Rating, rating=rating)
    return True


def _reviewable(*, rating_ids: list[int], requester: Requester) -> list[Rating]:
    ratings = list(
        Rating.objects.select_for_update(of=("self",))
        .select_related("batch", "worker__user")
        .filter(id__in=rating_ids, batch__requester=requester)
        .order_by("id")  # one lock order for every reviewer
    )
    if len(ratings) != len(set(rating_ids)):
        raise NotFound("No such rating among your batches.")
    for rating in ratings:
        if rating.worker.user_id == requester.user_id:
            raise DomainError("You cannot review your own ratings.")
        if rating.status != Rating.Status.PENDING_REVIEW:
            raise NotReviewable()
    return ratings


@transaction.atomic
def review_ratings(
    *, requester: Requester, rating_ids: list[int], approve: bool, reason: str = ""
) -> int:
    """A requester approves or rejects ratings of its own batches; all or nothing."""
    if not approve and not reason.strip():
        raise DomainError({"reason": ["Say why: the worker sees the reason."]})
    ratings = _reviewable(rating_ids=rating_ids, requester=requester)
    status = Rating.Status.APPROVED if approve else Rating.Status.REJECTED
    for rating in ratings:
        _decide(rating=rating, status=status, reason=reason.strip(), reviewer=requester.user)
    return len(ratings)


def _recent_flags(worker: Worker) -> list[str]:
    recent = list(worker.ratings.order_by("-id").values_list("position", "gold_correct")[:50])[::-1]
    flags = []
    if trust.straight_lining([p for p, _ in recent if p is not None]):
        flags.append("straight_lining")
    if trust.accuracy_dropped([g for _, g in recent if g is not None]):
        flags.append("accuracy_drop")
    return flags


@transaction.atomic
def review_worker(*, worker_id: int) -> dict[str, int]:
    """Applies a worker's current trust to its waiting ratings: pause, approve or flag."""
    worker = Worker.objects.select_for_update().get(id=worker_id)
    TrustSnapshot.objects.create(
        worker=worker,
        trust=worker.trust,
        gold_seen=worker.gold_seen,
        gold_correct=worker.gold_correct,
    )
    flags = _recent_flags(worker)
    pending = list(
        worker.ratings.filter(status=Rating.Status.PENDING_REVIEW)
        .select_related("batch")
        .order_by("id")
    )
    done = {"approved": 0, "rejected": 0, "flagged": 0}
    if "straight_lining" in flags:
        # Always the same place on screen is not an opinion: close the worker's batches.
        for batch_id in {rating.batch_id for rating in pending}:
            BatchWorkerStats.objects.update_or_create(
                batch_id=batch_id, worker=worker, defaults={"qualified": False}
            )
    for rating in pending:
        if selectors.batch_closed_to(worker=worker, batch=rating.batch):
            reason = (
                f"Failed quality checks (trust {worker.trust:.2f}, flags: "
                + (", ".join(flags) or "none")
                + ")."
            )
            done["rejected"] += _decide(rating=rating, status=Rating.Status.REJECTED, reason=reason)
        elif flags:
            new = sorted(set(rating.flags) | set(flags))
            if new != rating.flags:
                Rating.objects.filter(id=rating.id).update(flags=new)
                done["flagged"] += 1
        elif trust.auto_approves(batch=rating.batch, worker=worker, flags=rating.flags):
            done["approved"] += _decide(rating=rating, status=Rating.Status.APPROVED)
    return done


def approve_overdue(*, now: datetime | None = None) -> int:
    """In auto-after batches, approves unflagged ratings that waited long enough."""
    now = now or timezone.now()
    approved = 0
    overdue = Rating.objects.filter(
        status=Rating.Status.PENDING_REVIEW,
        batch__review_mode=Batch.Review.AUTO_AFTER,
        flags=[],
    ).select_related("batch")
    for rating in overdue.order_by("id")[:5000]:
        if rating.created_at <= now - timedelta(hours=rating.batch.review_after_hours):
            with transaction.atomic():
                approved += _decide(rating=rating, status=Rating.Status.APPROVED)
    return approved


def aggregate_batch(*, batch_id: int) -> dict[str, float]:
    """Re-aggregates a batch; each worker's agreement with the result feeds its trust."""
    batch = Batch.objects.get(id=batch_id)
    # Every rating not rejected (waiting ones included) counts as evidence.
    votes, gold = selectors.batch_votes(
        batch=batch, statuses=(Rating.Status.APPROVED, Rating.Status.PENDING_REVIEW)
    )
    result = dawid_skene(votes, gold=gold)
    seen, agree = trust.peer_evidence(votes, accuracy=result.accuracy, skip=set(gold))
    with transaction.atomic():
        for worker_id, n in seen.items():
            BatchWorkerStats.objects.update_or_create(
                batch=batch,
                worker_id=worker_id,
                defaults={"peer_seen": n, "peer_agree": agree[worker_id]},
            )
        for worker_id in seen:
            totals = BatchWorkerStats.objects.filter(worker_id=worker_id).aggregate(
                seen=Sum("peer_seen", default=0), agree=Sum("peer_agree", default=0)
            )
            Worker.objects.filter(id=worker_id).update(
                peer_seen=totals["seen"], peer_agree=totals["agree"]
            )
    for worker_id in seen:
        review_worker(worker_id=worker_id)
    return {"pairs": len(result.winners), "workers": len(seen)}


def aggregate_recent_batches(*, since: datetime) -> int:
    """Re-aggregates every batch (not cancelled) that received ratings since `since`."""
    batch_ids = list(
        Batch.objects.filter(ratings__created_at__gte=since)
        .filter(~Q(status=Batch.Status.CANCELLED))
        .values_list("id", flat=True)
        .distinct()
    )
    for batch_id in batch_ids:
        aggregate_batch(batch_id=batch_id)
    return len(batch_ids)
