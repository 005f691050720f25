"""Ratings: a worker's answer checked, recorded, and approved or held for review.

Money follows `rating_approved` / `rating_held` (payouts), inside the same transaction.
"""

from typing import Any

from django.db import transaction
from django.utils import timezone

from core import sql as core_sql

from .. import signals
from ..errors import InvalidAnswer, WorkerPaused
from ..models import Assignment, Rating, TaskType, Worker
from ..quality import trust
from .assignments import answerable_assignment, close_assignment, give_back
from .review import record_gold

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
) -> Rating:
    """Records the answer, checks it against gold, and approves or holds it for review."""
    assignment = answerable_assignment(worker=worker, assignment_id=assignment_id)
    item = assignment.item
    batch = item.batch
    ranking, scores = check_answer(
        task_type=batch.task_type, keys=assignment.order, ranking=ranking, scores=scores
    )
    now = timezone.now()
    if trust.is_paused(worker=worker, batch=batch):
        # A late answer from a worker paused meanwhile: the slot goes back to the crowd.
        give_back(assignment=assignment)
        raise WorkerPaused()
    best_first = ranking or sorted(assignment.order, key=lambda key: -scores[key])
    gold_correct = trust.matches_gold(order=best_first, gold=item.gold) if item.gold else None
    if gold_correct is not None:
        worker.gold_seen += 1
        worker.gold_correct += int(gold_correct)
    flags = []
    if (now - assignment.created_at).total_seconds() < (
        batch.min_seconds if batch.min_seconds is not None else trust.MIN_SECONDS[batch.task_type]
    ):
        flags.append("too_fast")
    approved = trust.auto_approves(batch=batch, worker=worker, flags=flags)
    with transaction.atomic():
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
                position=assignment.order.index(best_first[0]),
            )
        )
        if gold_correct is not None:
            record_gold(worker=worker, batch=batch, correct=gold_correct)
        if approved:
            signals.rating_approved.send(sender=Rating, rating=rating, held=False)
        else:
            signals.rating_held.send(sender=Rating, rating=rating)
    return rating
