"""Ratings: a worker's answer checked, recorded, and approved or held for review.

Money follows `rating_approved` / `rating_held` (payouts), inside the same transaction.
"""

from typing import Any

from django.db import transaction
from django.utils import timezone

from core import sql as core_sql

from .. import selectors, signals, sql
from ..errors import InvalidAnswer, WorkerPaused
from ..models import Assignment, Batch, Item, Rating, TaskType, Worker
from ..quality import trust
from ..quality.aggregation import item_confidence
from .assignments import answerable_assignment, close_assignment, give_back
from .review import (
    close_worker,
    closing_reason,
    note_client,
    probation_evidence,
    record_gold,
    review_worker,
)

LIKERT_RANGE = range(1, 8)


def check_answer(
    *, task_type: str, keys: list[str], ranking: Any, scores: Any
) -> tuple[list[str] | None, dict[str, int] | None]:
    """Validates an answer against the task; returns (ranking, scores) as stored."""
    if task_type == TaskType.LIKERT:
        if not isinstance(scores, dict):
            raise InvalidAnswer({"scores": ["Give a score for every response."]})
        if sorted(scores) != sorted(keys):
            raise InvalidAnswer({"scores": ["Score every response of this task exactly once."]})
        bad = [
            k
            for k, v in scores.items()
            if not isinstance(v, int) or isinstance(v, bool) or v not in LIKERT_RANGE
        ]
        if bad:
            raise InvalidAnswer({"scores": ["Scores are whole numbers from 1 to 7."]})
        return None, {key: scores[key] for key in keys}
    if not isinstance(ranking, list) or not all(isinstance(k, str) for k in ranking):
        raise InvalidAnswer({"ranking": ["Give the response ids as a list, best first."]})
    if len(ranking) != len(set(ranking)) or sorted(ranking) != sorted(keys):
        raise InvalidAnswer({"ranking": ["List every response id of this task exactly once."]})
    return list(ranking), None


def submit_rating(
    *,
    worker: Worker,
    assignment_id: int,
    ranking: Any = None,
    scores: Any = None,
    rationale: str = "",
    client: str = "",
) -> Rating:
    """Records the answer, checks it against gold, and approves or holds it for review.

    Everything the answer decides happens in this transaction: a closing flag (always the
    same place on screen, too fast as a habit) closes the worker everywhere, and the gold
    answer that settles a new worker's probation pays (or rejects) its held ratings.
    `client` identifies the device it came from (see review.note_client).
    """
    assignment = answerable_assignment(worker=worker, assignment_id=assignment_id)
    item = assignment.item
    batch = item.batch
    ranking, scores = check_answer(
        task_type=batch.task_type, keys=assignment.order, ranking=ranking, scores=scores
    )
    now = timezone.now()
    if worker.standing == Worker.Standing.CLOSED or trust.is_paused(worker=worker, batch=batch):
        # A late answer from a worker closed or paused meanwhile: the slot goes back.
        give_back(assignment=assignment)
        raise WorkerPaused()
    best_first = ranking or sorted(assignment.order, key=lambda key: -scores[key])
    position = assignment.order.index(best_first[0])
    gold_correct = trust.matches_gold(order=best_first, gold=item.gold) if item.gold else None
    if gold_correct is not None:
        worker.gold_seen += 1
        worker.gold_correct += int(gold_correct)
    flags = []
    if (now - assignment.created_at).total_seconds() < (
        batch.min_seconds if batch.min_seconds is not None else trust.MIN_SECONDS[batch.task_type]
    ):
        flags.append("too_fast")
    recent = selectors.recent_answers(worker_id=worker.id, limit=trust.RECENT_WINDOW)
    closing = trust.closing_flags(
        positions=[*recent.positions, position],
        too_fast=[*recent.too_fast, "too_fast" in flags],
        choices=2,
    )
    approved = not closing and trust.auto_approves(batch=batch, worker=worker, flags=flags)
    with transaction.atomic():
        if closing or (client and client != worker.client):
            # This answer will write the worker's row after the ledger's accounts: lock the
            # row first, the order review jobs take them in, so the two never deadlock.
            sql.lock_worker(worker_id=worker.id)
        close_assignment(assignment=assignment, status=Assignment.Status.SUBMITTED, now=now)
        rating = core_sql.insert(
            Rating(
                assignment=assignment,
                worker=worker,
                item=item,
                batch=batch,
                ranking=ranking,
                scores=scores,
                rationale=rationale,
                status=Rating.Status.APPROVED if approved else Rating.Status.PENDING_REVIEW,
                reward_msat=batch.reward_for(worker, gold=item.gold is not None),
                shown_at=assignment.created_at,
                created_at=now,
                flags=flags,
                gold_correct=gold_correct,
                position=position,
            )
        )
        if gold_correct is not None:
            record_gold(worker=worker, batch=batch, correct=gold_correct)
        if approved:
            signals.rating_approved.send(sender=Rating, rating=rating, held=False)
        else:
            signals.rating_held.send(sender=Rating, rating=rating)
        decided = note_client(worker=worker, client=client)
        if closing and not decided:
            close_worker(worker=worker, reason=closing_reason(closing))
            decided = True
        elif gold_correct is not None and settles_probation(worker):
            # This answer settles probation: pay or reject the held ratings now, not in a
            # job that may run seconds later.
            review_worker(worker_id=worker.id)
            worker.refresh_from_db(fields=["standing", "closed_reason"])
            decided = True
        if batch.max_overlap > batch.overlap and item.gold is None and not decided:
            extend_if_unsure(item=item, batch=batch)
        if decided:
            rating.refresh_from_db(fields=["status", "reason"])
    return rating


def settles_probation(worker: Worker) -> bool:
    return (
        worker.standing == Worker.Standing.PROBATION
        and trust.probation_verdict(**probation_evidence(worker)) is not None
    )


def extend_if_unsure(*, item: Item, batch: Batch) -> bool:
    """Dynamic overlap: once an item's slots are taken, one more is opened while its
    aggregated confidence is below the batch's bar and it has fewer than max_overlap votes.
    Each voter counts by its trust (a random clicker's vote weighs nothing)."""
    if batch.min_confidence is None:
        return False
    votes, accuracy = sql.item_votes(item_id=item.id)
    if item_confidence(votes, accuracy=accuracy) >= batch.min_confidence:
        return False
    return sql.add_slot(item_id=item.id, max_votes=batch.max_overlap) == 1
