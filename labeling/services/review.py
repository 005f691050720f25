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
from ..models import Assignment, Batch, BatchWorkerStats, Rating, Requester, TrustSnapshot, Worker
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


EVIDENCE = ("gold_seen", "gold_correct", "peer_seen", "peer_agree")


def _same_person(worker: Worker) -> Q:
    """The worker, and the other keys on probation that answer from its client."""
    same = Q(id=worker.id)
    if worker.client:
        same |= Q(client=worker.client, standing=Worker.Standing.PROBATION)
    return same


@transaction.atomic
def close_worker(*, worker: Worker, reason: str) -> int:
    """Closes the worker on every batch at once: it is served nothing more and its waiting
    ratings are rejected (their items go back to others). Keys on probation that answered
    from the same client are taken for the same person and closed with it.
    Returns how many ratings were rejected."""
    closing = Worker.objects.filter(_same_person(worker))
    ids = list(closing.select_for_update(no_key=True).order_by("id").values_list("id", flat=True))
    Worker.objects.filter(id=worker.id).update(
        standing=Worker.Standing.CLOSED, closed_reason=reason
    )
    Worker.objects.filter(id__in=ids).exclude(id=worker.id).update(
        standing=Worker.Standing.CLOSED,
        closed_reason=f"Same client as worker {worker.id}, closed: {reason}",
    )
    worker.standing, worker.closed_reason = Worker.Standing.CLOSED, reason
    for assignment in Assignment.objects.filter(worker_id__in=ids, status=Assignment.Status.OPEN):
        if Assignment.objects.filter(id=assignment.id, status=Assignment.Status.OPEN).update(
            status=Assignment.Status.EXPIRED
        ):
            free_slot(item_id=assignment.item_id)
    pending = Rating.objects.filter(worker_id__in=ids, status=Rating.Status.PENDING_REVIEW)
    return sum(
        _decide(rating=rating, status=Rating.Status.REJECTED, reason=reason)
        for rating in pending.order_by("id")
    )


def closing_reason(flags: list[str]) -> str:
    return "Closed by quality checks: " + ", ".join(flags) + "."


def note_client(*, worker: Worker, client: str) -> bool:
    """Records the client a worker answers from. A key on probation behind the client of a
    closed worker is the same person with a new key: it is closed too. True if closed."""
    if not client or client == worker.client:
        return False
    Worker.objects.filter(id=worker.id).update(client=client)
    worker.client = client
    if worker.standing != Worker.Standing.PROBATION:
        return False
    closed = (
        Worker.objects.filter(client=client, standing=Worker.Standing.CLOSED)
        .exclude(id=worker.id)
        .values_list("id", flat=True)
        .first()
    )
    if closed is None:
        return False
    close_worker(worker=worker, reason=f"Same client as worker {closed}, which was closed.")
    return True


def probation_evidence(worker: Worker) -> dict[str, float]:
    """The checks a worker on probation is judged by: its own (as in memory, counting the
    answer being recorded) and those of the other keys on probation behind its client. One
    person's new keys are judged as one, so rotating keys starts no one afresh."""
    evidence = {name: getattr(worker, name) for name in EVIDENCE}
    if worker.client:
        others = (
            Worker.objects.filter(_same_person(worker))
            .exclude(id=worker.id)
            .aggregate(**{name: Sum(name, default=0) for name in EVIDENCE})
        )
        for name in EVIDENCE:
            evidence[name] += others[name]
    return evidence


def settle_probation(*, worker: Worker) -> bool | None:
    """Applies the probation test to a worker on probation and the keys judged with it:
    passed → trusted (waiting ratings are then approved by review_worker), failed → closed.
    None: undecided."""
    if worker.standing != Worker.Standing.PROBATION:
        return None
    evidence = probation_evidence(worker)
    verdict = trust.probation_verdict(**evidence)
    if verdict is False:
        close_worker(
            worker=worker,
            reason=f"Failed the checks on probation ({evidence['gold_correct']} of "
            f"{evidence['gold_seen']} known answers right, trust {worker.trust:.2f}).",
        )
    elif verdict:
        others = list(
            Worker.objects.filter(_same_person(worker))
            .exclude(id=worker.id)
            .values_list("id", flat=True)
        )
        Worker.objects.filter(
            Q(id__in=[worker.id, *others]), standing=Worker.Standing.PROBATION
        ).update(standing=Worker.Standing.TRUSTED)
        worker.standing = Worker.Standing.TRUSTED
        for other in others:  # their held ratings are paid in this transaction too
            review_worker(worker_id=other)
    return verdict


@transaction.atomic
def vouch_for(*, worker: Worker) -> bool:
    """The operator vouches for a worker on probation (a labeler it knows): trusted from
    now, its waiting ratings are reviewed as a trusted worker's. False if not on probation."""
    if not Worker.objects.filter(id=worker.id, standing=Worker.Standing.PROBATION).update(
        standing=Worker.Standing.TRUSTED
    ):
        return False
    worker.standing = Worker.Standing.TRUSTED
    review_worker(worker_id=worker.id)
    return True


def _recent_flags(worker: Worker) -> list[str]:
    recent = selectors.recent_answers(worker_id=worker.id, limit=50)
    flags = trust.closing_flags(positions=recent.positions, too_fast=recent.too_fast, choices=2)
    if trust.accuracy_dropped(recent.gold):
        flags.append("accuracy_drop")
    return flags


@transaction.atomic
def review_worker(*, worker_id: int) -> dict[str, int]:
    """Applies a worker's current evidence to its waiting ratings: probation decided,
    closed on a closing flag, paused, approved or flagged."""
    worker = Worker.objects.select_for_update(no_key=True).get(id=worker_id)
    TrustSnapshot.objects.create(
        worker=worker,
        trust=worker.trust,
        gold_seen=worker.gold_seen,
        gold_correct=worker.gold_correct,
    )
    done = {"approved": 0, "rejected": 0, "flagged": 0}
    if worker.standing == Worker.Standing.CLOSED:
        # Anything still waiting (a rating that arrived as it closed) goes too.
        done["rejected"] += close_worker(worker=worker, reason=worker.closed_reason)
        return done
    flags = _recent_flags(worker)
    closing = [flag for flag in flags if flag in trust.CLOSING_FLAGS]
    if closing:
        done["rejected"] += close_worker(worker=worker, reason=closing_reason(closing))
        return done
    if settle_probation(worker=worker) is False:
        return done  # closed, its waiting ratings rejected
    pending = list(
        worker.ratings.filter(status=Rating.Status.PENDING_REVIEW)
        .select_related("batch")
        .order_by("id")
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
    for worker_id, n in seen.items():
        # One worker per transaction, its row locked before its stats: the order a submit
        # takes them in (record_gold), so the two never deadlock.
        with transaction.atomic():
            Worker.objects.select_for_update(no_key=True).filter(id=worker_id).values_list(
                "id"
            ).first()
            BatchWorkerStats.objects.update_or_create(
                batch=batch,
                worker_id=worker_id,
                defaults={"peer_seen": n, "peer_agree": agree[worker_id]},
            )
            totals = BatchWorkerStats.objects.filter(worker_id=worker_id).aggregate(
                seen=Sum("peer_seen", default=0), agree=Sum("peer_agree", default=0)
            )
            Worker.objects.filter(id=worker_id).update(
                peer_seen=totals["seen"], peer_agree=totals["agree"]
            )
    copies = trust.copiers(selectors.batch_answers(batch=batch, winners=result.winners | gold))
    for copier, source in sorted(copies.items()):
        close_worker(
            worker=Worker.objects.get(id=copier),
            reason=f"Closed by quality checks: the same answers as worker {source}, "
            "mistakes included.",
        )
    for worker_id in seen:
        review_worker(worker_id=worker_id)
    return {"pairs": len(result.winners), "workers": len(seen), "copiers": len(copies)}


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
