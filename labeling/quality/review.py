"""Quality services: approve or hold new ratings, review them, re-aggregate batches.

Money follows the signals sent here (held → pending, approved → available, rejected →
back to the batch's reservation), inside the same transaction as the status change.
"""

from collections import defaultdict
from datetime import datetime, timedelta
from typing import Any

from django.db import transaction
from django.db.models import F, Q, Sum
from django.utils import timezone

from .. import selectors, signals
from ..errors import DomainError, InvalidBatch, NotFound
from ..models import Batch, BatchWorkerStats, Item, Rating, Requester, TrustSnapshot, Worker
from . import trust
from .aggregation import Vote, dawid_skene

QUALITY_FIELDS = {
    "review_mode": str,
    "auto_approve_trust": float,
    "review_after_hours": int,
    "pause_below_trust": float,
    "min_seconds": int,
    "qualification_size": int,
    "gold_overlap": int,
    "bonus_percent": int,
    "bonus_trust": float,
    "pay_gold": bool,
    "qualification_pass": float,
}


class WorkerPaused(DomainError):
    status_code = 403
    default_detail = "Your answers on this batch failed too many checks; it is closed to you."


class NotReviewable(DomainError):
    status_code = 409
    default_detail = "Only ratings waiting for review can be approved or rejected."


def clean_quality_options(options: dict[str, Any]) -> dict[str, Any]:
    """Validates a batch's quality options (all optional) into Batch field values."""
    unknown = set(options) - set(QUALITY_FIELDS)
    if unknown:
        raise InvalidBatch({"quality": [f"Unknown option(s): {', '.join(sorted(unknown))}."]})
    clean: dict[str, Any] = {}
    for name, value in options.items():
        if value is None and name == "min_seconds":
            clean[name] = None
            continue
        kind = QUALITY_FIELDS[name]
        accepted = (int, float) if kind is float else kind
        if (kind is not bool and isinstance(value, bool)) or not isinstance(value, accepted):
            raise InvalidBatch({name: [f"Expected a {kind.__name__}."]})
        clean[name] = value
    if "review_mode" in clean and clean["review_mode"] not in Batch.Review.values:
        raise InvalidBatch({"review_mode": [f"One of: {', '.join(Batch.Review.values)}."]})
    if not 0 <= clean.get("bonus_percent", 0) <= 100:
        raise InvalidBatch({"bonus_percent": ["Between 0 and 100."]})
    for name in ("auto_approve_trust", "pause_below_trust", "qualification_pass", "bonus_trust"):
        if name in clean and not 0 <= clean[name] <= 1:
            raise InvalidBatch({name: ["Between 0 and 1."]})
    if not 1 <= clean.get("gold_overlap", 1) <= 1000:
        raise InvalidBatch({"gold_overlap": ["Between 1 and 1000."]})
    for name in ("review_after_hours", "min_seconds", "qualification_size"):
        if clean.get(name) is not None and not 0 <= clean[name] <= 10_000:
            raise InvalidBatch({name: ["Between 0 and 10000."]})
    return clean


def is_paused(*, worker: Worker, batch: Batch) -> bool:
    """Trust too low for the batch (decided from the worker row alone: no query)."""
    return worker.evidence >= trust.MIN_EVIDENCE_TO_PAUSE and worker.trust < batch.pause_below_trust


def is_closed(*, worker: Worker, batch: Batch) -> bool:
    """Paused by trust, or closed to the worker (failed entry test, straight-lining)."""
    return (
        is_paused(worker=worker, batch=batch)
        or BatchWorkerStats.objects.filter(batch=batch, worker=worker, qualified=False).exists()
    )


def status_for_new_rating(*, batch: Batch, worker: Worker, flags: list[str]) -> str:
    if (
        batch.review_mode == Batch.Review.AUTO
        and not flags
        and worker.trust >= batch.auto_approve_trust
    ):
        return Rating.Status.APPROVED
    return Rating.Status.PENDING_REVIEW


def record_gold(*, worker: Worker, batch: Batch, correct: bool) -> None:
    """Counts a gold answer for the worker overall and in this batch (its entry test)."""
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
    after_commit_review(worker_id=worker.id)


def after_commit_review(*, worker_id: int) -> None:
    """Re-reviews the worker once the rating that changed its evidence is committed."""
    from ..tasks import review_worker

    transaction.on_commit(lambda: review_worker.delay(worker_id=worker_id))


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
        Item.objects.filter(id=rating.item_id).update(slots_left=F("slots_left") + 1)
        signals.rating_rejected.send(sender=Rating, rating=rating, held=True)
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
        if is_closed(worker=worker, batch=rating.batch):
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
        elif (
            rating.batch.review_mode == Batch.Review.AUTO
            and not rating.flags
            and worker.trust >= rating.batch.auto_approve_trust
        ):
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


def batch_votes(batch: Batch) -> tuple[list[Vote], dict[tuple[int, str, str], str]]:
    """Votes of every rating not rejected (waiting ones included), and the gold answers."""
    return selectors.batch_votes(
        batch=batch, statuses=(Rating.Status.APPROVED, Rating.Status.PENDING_REVIEW)
    )


def peer_evidence(
    votes: list[Vote], *, accuracy: dict[int, float], skip: set
) -> tuple[dict[int, int], dict[int, float]]:
    """Per worker: its non-gold votes, and how many of them Dawid-Skene judges right.

    The expected number right is the worker's estimated accuracy times its votes. The
    estimate models that the other workers are noisy too, so an honest worker is not
    penalised for disagreeing with a wrong crowd, and a random one earns about half.
    """
    seen: dict[int, int] = defaultdict(int)
    for vote in votes:
        if vote.pair not in skip:  # gold answers count through gold_seen already
            seen[vote.worker] += 1
    return seen, {worker: accuracy[worker] * n for worker, n in seen.items()}


def aggregate_batch(*, batch_id: int) -> dict[str, float]:
    """Re-aggregates a batch; each worker's agreement with the result feeds its trust."""
    batch = Batch.objects.get(id=batch_id)
    votes, gold = batch_votes(batch)
    result = dawid_skene(votes, gold=gold)
    seen, agree = peer_evidence(votes, accuracy=result.accuracy, skip=set(gold))
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


def batches_to_aggregate(*, since: datetime) -> list[int]:
    return list(
        Batch.objects.filter(ratings__created_at__gte=since)
        .filter(~Q(status=Batch.Status.CANCELLED))
        .values_list("id", flat=True)
        .distinct()
    )
