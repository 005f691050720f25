"""Reads of the labeling app: tasks as workers see them, progress, exports."""

import json
from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

from django.db.models import Count, Exists, OuterRef, Prefetch, Q, QuerySet, Sum
from django.db.models.functions import TruncDate
from django.utils import timezone

from .markdown import render_markdown
from .models import (
    Assignment,
    Batch,
    BatchWorkerStats,
    Item,
    PublicProfile,
    Rating,
    Requester,
    Response,
    StagedUpload,
    TaskType,
    TrustSnapshot,
    Worker,
)
from .quality.aggregation import (
    Pair,
    Vote,
    aggregate,
    dawid_skene,
    krippendorff_alpha,
    votes_from_answer,
)
from .quality.trust import Answer, is_paused


def assignment_with_task(*, assignment_id: int) -> Assignment:
    """An assignment with what its task page needs: item, batch, and the item's
    responses as `item.task_responses` (as the task claim loads them)."""
    return (
        Assignment.objects.select_related("item__batch")
        .prefetch_related(Prefetch("item__responses", to_attr="task_responses"))
        .get(id=assignment_id)
    )


@dataclass(frozen=True)
class RecentAnswers:
    """A worker's latest ratings, oldest first: where the chosen answer was shown, whether
    it was too fast, and (gold items only) whether it was right."""

    positions: list[int]
    too_fast: list[bool]
    gold: list[bool]


def recent_answers(*, worker_id: int, limit: int) -> RecentAnswers:
    rows = list(
        Rating.objects.filter(worker_id=worker_id)
        .order_by("-id")
        .values_list("position", "flags", "gold_correct")[:limit]
    )[::-1]
    return RecentAnswers(
        positions=[p for p, _, _ in rows if p is not None],
        too_fast=["too_fast" in flags for _, flags, _ in rows],
        gold=[g for _, _, g in rows if g is not None],
    )


def batch_closed_to(*, worker: Worker, batch: Batch) -> bool:
    """Closed everywhere, paused by trust, or closed to the worker (failed entry test)."""
    return (
        worker.standing == Worker.Standing.CLOSED
        or is_paused(worker=worker, batch=batch)
        or BatchWorkerStats.objects.filter(batch=batch, worker=worker, qualified=False).exists()
    )


def task_payload(*, assignment: Assignment, worker: Worker) -> dict[str, Any]:
    """The task as the worker sees it: responses in this assignment's own order.

    `reward_msat` is what this worker earns for it now; a batch that pays by quality
    also says what trusted workers get and from which trust.
    """
    item = assignment.item
    batch = item.batch
    texts = {response.key: response.text for response in item.task_responses}
    return {
        "assignment_id": assignment.id,
        "expires_at": assignment.expires_at,
        # A gold item shows the usual reward: nothing may tell it apart.
        "reward_msat": batch.reward_for(worker),
        "bonus": {
            "bonus_msat": batch.bonus_msat,
            "min_trust": batch.bonus_trust,
            "your_trust": round(worker.trust, 2),
        }
        if batch.bonus_percent
        else None,
        "task": {
            "type": batch.task_type,
            "instructions": batch.instructions,
            "instructions_html": render_markdown(batch.instructions),
            "prompt": item.prompt,
            "responses": [{"id": key, "text": texts[key]} for key in assignment.order],
        },
    }


def worker_earnings(*, worker: Worker) -> dict[str, int]:
    """What the worker's approved ratings earned in all, and how many ratings it gave.
    (Money the worker holds now is the ledger's: payouts.selectors.worker_balances.)"""
    totals = worker.ratings.aggregate(
        earned=Sum("reward_msat", filter=Q(status=Rating.Status.APPROVED), default=0),
        count=Count("id"),
    )
    return {"earned_msat": totals["earned"], "ratings_count": totals["count"]}


STATS_DAYS = 30  # the earnings chart's span
MIN_CHECKS_FOR_ACCURACY = 5  # fewer checked answers say little: the board shows none


def gold_accuracy(worker: Worker) -> float | None:
    """Share of the worker's checked (gold) answers that were right; None before any."""
    return worker.gold_correct / worker.gold_seen if worker.gold_seen else None


def streaks(days: list[date], *, today: date) -> tuple[int, int]:
    """The current run of consecutive days with ratings (it counts while it ends today or
    yesterday) and the longest run, from the distinct days with ratings, newest first."""
    runs: list[int] = []
    for i, day in enumerate(days):
        if i and days[i - 1] - day == timedelta(days=1):
            runs[-1] += 1
        else:
            runs.append(1)
    if not runs:
        return 0, 0
    current = runs[0] if today - days[0] <= timedelta(days=1) else 0
    return current, max(runs)


def worker_stats(*, worker: Worker, today: date | None = None) -> dict[str, Any]:
    """A worker's own record: approvals, checked answers, trust, streaks, earnings by day
    and where their earnings stand among all workers who earned (four queries)."""
    today = today or timezone.now().date()
    approved = Q(status=Rating.Status.APPROVED)
    totals = worker.ratings.aggregate(
        count=Count("id"),
        approved=Count("id", filter=approved),
        rejected=Count("id", filter=Q(status=Rating.Status.REJECTED)),
        pending=Count("id", filter=Q(status=Rating.Status.PENDING_REVIEW)),
        earned=Sum("reward_msat", filter=approved, default=0),
    )
    per_day = list(
        worker.ratings.annotate(day=TruncDate("created_at"))
        .values("day")
        .annotate(earned=Sum("reward_msat", filter=approved, default=0))
        .order_by("-day")
        .values_list("day", "earned")
    )
    current, longest = streaks([day for day, _ in per_day], today=today)
    earned_by_day = dict(per_day)
    chart = [
        (day, earned_by_day.get(day, 0))
        for day in (today - timedelta(days=back) for back in range(STATS_DAYS - 1, -1, -1))
    ]
    earners = Rating.objects.filter(approved).values("worker_id").annotate(total=Sum("reward_msat"))
    decided = totals["approved"] + totals["rejected"]
    return {
        "ratings_count": totals["count"],
        "approved": totals["approved"],
        "rejected": totals["rejected"],
        "pending": totals["pending"],
        "approval_rate": totals["approved"] / decided if decided else None,
        "earned_msat": totals["earned"],
        "gold_seen": worker.gold_seen,
        "gold_correct": worker.gold_correct,
        "gold_accuracy": gold_accuracy(worker),
        "trust": worker.trust,
        "streak_days": current,
        "longest_streak_days": longest,
        "by_day": chart,
        "recent_msat": sum(msat for _, msat in chart),
        "rank": earners.filter(total__gt=totals["earned"]).count() + 1
        if totals["earned"]
        else None,
        "earners": earners.count(),
    }


def public_profile_of(*, worker: Worker) -> PublicProfile | None:
    return PublicProfile.objects.filter(worker=worker).first()


def leaderboard(*, limit: int = 100) -> list[dict[str, Any]]:
    """Workers who chose to be listed, by approved earnings, under their pseudonyms (one query)."""
    approved = Q(worker__ratings__status=Rating.Status.APPROVED)
    profiles = (
        PublicProfile.objects.filter(listed=True)
        .select_related("worker")
        .annotate(
            earned=Sum("worker__ratings__reward_msat", filter=approved, default=0),
            approved_count=Count("worker__ratings", filter=approved),
        )
        .order_by("-earned", "id")[:limit]
    )
    return [
        {
            "place": place,
            "pseudonym": profile.pseudonym,
            "worker_id": profile.worker_id,
            "earned_msat": profile.earned,
            "ratings": profile.approved_count,
            "accuracy": gold_accuracy(profile.worker)
            if profile.worker.gold_seen >= MIN_CHECKS_FOR_ACCURACY
            else None,
        }
        for place, profile in enumerate(profiles, start=1)
    ]


def batches_of(*, requester: Requester) -> QuerySet[Batch]:
    return Batch.objects.filter(requester=requester)


def visible_to(*, user: Any, rows: QuerySet, requester_path: str) -> QuerySet:
    """Every row for an operator (superuser), a requester's own (`requester_path` leads
    from a row to its requester), none for other staff."""
    if user.is_superuser:
        return rows
    requester = getattr(user, "requester", None)
    if requester is None:
        return rows.none()
    return rows.filter(**{requester_path: requester})


def batch_progress(*, batch: Batch) -> dict[str, Any]:
    # Finished: a plain item whose slots are all answered (none open, none left).
    finished = Q(item__gold__isnull=True, item__slots_left=0) & ~Exists(
        Assignment.objects.filter(item_id=OuterRef("item_id"), status=Assignment.Status.OPEN)
    )
    counted = ~Q(status=Rating.Status.REJECTED)
    totals = batch.ratings.aggregate(
        done=Count("id", filter=counted),
        spent=Sum("reward_msat", filter=Q(status=Rating.Status.APPROVED), default=0),
        finished_votes=Count("id", filter=counted & finished),
        finished_items=Count("item_id", filter=counted & finished, distinct=True),
    )
    return {
        "id": batch.id,
        "name": batch.name,
        "status": batch.status,
        "task_type": batch.task_type,
        "items_count": batch.items_count,
        "ratings_done": totals["done"],
        "ratings_needed": batch.ratings_needed,
        "spent_msat": totals["spent"],
        "agreement": batch_agreement(batch=batch),
        "source_model": batch.source_model or None,
        "source_run_id": batch.source_run_id,
        "votes_per_item": round(totals["finished_votes"] / totals["finished_items"], 3)
        if totals["finished_items"]
        else None,
        "below_confidence": below_confidence(batch=batch),
    }


def item_confidences(*, batch: Batch) -> dict[int, float]:
    """Per rated plain item: the Dawid-Skene posterior of its least sure pair, over every
    rating not rejected (gold answers anchor the workers' accuracies)."""
    votes, gold = batch_votes(
        batch=batch, statuses=(Rating.Status.APPROVED, Rating.Status.PENDING_REVIEW)
    )
    result = dawid_skene(votes, gold=gold)
    gold_items = {pair[0] for pair in gold}
    confidence: dict[int, float] = {}
    for pair in {vote.pair for vote in votes}:
        if pair[0] not in gold_items:
            p = result.confidence.get(pair, 0.5)
            confidence[pair[0]] = min(p, confidence.get(pair[0], 1.0))
    return confidence


def below_confidence(*, batch: Batch) -> float | None:
    """Share of rated items under the batch's `min_confidence`; None when it sets none."""
    if batch.min_confidence is None:
        return None
    confidence = item_confidences(batch=batch)
    if not confidence:
        return None
    below = sum(p < batch.min_confidence for p in confidence.values())
    return round(below / len(confidence), 4)


def batch_votes(
    *, batch: Batch, statuses: tuple[str, ...] = (Rating.Status.APPROVED,)
) -> tuple[list[Vote], dict[Pair, str]]:
    """Pair votes of the batch's ratings in `statuses`, and the gold answers as pair winners.

    Gold items' votes are included: they anchor the estimate of each worker's accuracy.
    """
    ratings = batch.ratings.filter(status__in=statuses).values_list(
        "worker_id", "item_id", "ranking", "scores"
    )
    votes = [
        vote
        for worker_id, item_id, ranking, scores in ratings.order_by("id")
        for vote in votes_from_answer(
            worker=worker_id, item=item_id, ranking=ranking, scores=scores
        )
    ]
    gold = {}
    for item_id, order in batch.items.filter(gold__isnull=False).values_list("id", "gold"):
        for vote in votes_from_answer(worker=0, item=item_id, ranking=order, scores=None):
            gold[vote.pair] = vote.winner
    return votes, gold


def batch_answers(*, batch: Batch, winners: dict[Pair, str]) -> list[Answer]:
    """Every answer of the batch not rejected, as the copy check compares them: whole,
    wrong where it contradicts `winners` (gold or aggregated), and timed."""
    ratings = batch.ratings.exclude(status=Rating.Status.REJECTED).values_list(
        "worker_id", "item_id", "ranking", "scores", "created_at"
    )
    answers = []
    for worker_id, item_id, ranking, scores, created_at in ratings.order_by("id"):
        votes = votes_from_answer(worker=worker_id, item=item_id, ranking=ranking, scores=scores)
        answers.append(
            Answer(
                worker=worker_id,
                item=item_id,
                answer=json.dumps(scores if scores is not None else ranking, sort_keys=True),
                wrong=any(winners.get(v.pair, v.winner) != v.winner for v in votes),
                at=created_at.timestamp(),
            )
        )
    return answers


def batch_agreement(*, batch: Batch) -> float | None:
    """Krippendorff's alpha over approved ratings of non-gold items.

    Pairwise: which response won (nominal). Ranking: each response's rank, Likert: each
    response's score (ordinal). None until some item has two ratings.
    """
    units: dict[Any, list[Any]] = defaultdict(list)
    ratings = batch.ratings.filter(
        status=Rating.Status.APPROVED, item__gold__isnull=True
    ).values_list("item_id", "ranking", "scores")
    for item_id, ranking, scores in ratings:
        if batch.task_type == TaskType.PAIRWISE:
            units[item_id].append(ranking[0])
        elif scores is not None:
            for key, score in scores.items():
                units[(item_id, key)].append(score)
        else:
            for rank, key in enumerate(ranking):
                units[(item_id, key)].append(rank)
    level = "nominal" if batch.task_type == TaskType.PAIRWISE else "ordinal"
    alpha = krippendorff_alpha(units, level=level)
    return None if alpha is None else round(alpha, 4)


EXPORT_METHODS = ("dawid_skene", "majority", "bradley_terry")


def export_trl(
    *,
    batch: Batch,
    method: str = "dawid_skene",
    details: bool = False,
    with_item: bool = False,
    min_confidence: float = 0.0,
) -> Iterator[dict[str, Any]]:
    """Preference pairs of the batch, aggregated over each item's approved ratings.

    A ranking of n responses gives its n·(n-1)/2 pairs. `method` picks the aggregation
    (Dawid-Skene by default, anchored on gold answers). Gold items are never exported.
    Each pair carries `confidence`: the Dawid-Skene posterior that `chosen` beats
    `rejected`; pairs below `min_confidence` are left out.
    With `details`, each pair carries `margin` (vote margin, 0..1, a column TRL's
    RewardTrainer reads) and `agreement` (share of votes for the chosen answer).
    `with_item` adds `item_id`, for splits that keep an item's pairs together.
    """
    votes, gold = batch_votes(batch=batch)
    ds = dawid_skene(votes, gold=gold)
    winners = ds.winners if method == "dawid_skene" else aggregate(votes, method=method, gold=gold)
    tally: dict[Pair, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    for vote in votes:
        tally[vote.pair][vote.winner] += 1
    gold_items = {pair[0] for pair in gold}
    items = Item.objects.in_bulk({pair[0] for pair in winners} - gold_items)
    texts: dict[int, dict[str, str]] = defaultdict(dict)
    for item_id, key, text in Response.objects.filter(item_id__in=items).values_list(
        "item_id", "key", "text"
    ):
        texts[item_id][key] = text
    for pair in sorted(p for p in winners if p[0] in items):
        item_id, a, b = pair
        chosen = winners[pair]
        rejected = b if chosen == a else a
        sure = ds.confidence.get(pair, 0.5)
        confidence = sure if ds.winners.get(pair) == chosen else 1 - sure
        if confidence < min_confidence:
            continue
        row: dict[str, Any] = {
            "prompt": items[item_id].prompt,
            "chosen": texts[item_id][chosen],
            "rejected": texts[item_id][rejected],
            "confidence": round(confidence, 4),
        }
        if with_item:
            row["item_id"] = item_id
        if details:
            total = sum(tally[pair].values())
            share = tally[pair][chosen] / total
            row["margin"] = round(max(0.0, 2 * share - 1), 4)
            row["agreement"] = round(share, 4)
        yield row


def export_raw(*, batch: Batch) -> Iterator[dict[str, Any]]:
    """Every approved rating, with who gave it and when."""
    ratings = batch.ratings.filter(status=Rating.Status.APPROVED).select_related(
        "item", "assignment"
    )
    for rating in ratings.order_by("id").iterator():
        yield {
            "rating_id": rating.id,
            "item_id": rating.item_id,
            "item_position": rating.item.position,
            "gold": rating.item.gold is not None,
            "worker_id": rating.worker_id,
            "task_type": batch.task_type,
            "ranking": rating.ranking,
            "scores": rating.scores,
            "order_shown": rating.assignment.order,
            "rationale": rating.rationale,
            "reward_msat": rating.reward_msat,
            "shown_at": rating.shown_at.isoformat(),
            "answered_at": rating.created_at.isoformat(),
        }


def ratings_for_review(*, batch: Batch, status: str | None, limit: int = 500) -> list[dict]:
    """What a reviewer needs per rating: the answer, flags, timing and the worker's trust."""
    ratings = batch.ratings.select_related("worker", "item").order_by("-id")
    if status is not None:
        ratings = ratings.filter(status=status)
    return [
        {
            "rating_id": r.id,
            "item_id": r.item_id,
            "prompt": r.item.prompt,
            "worker_id": r.worker_id,
            "worker_trust": round(r.worker.trust, 3),
            "ranking": r.ranking,
            "scores": r.scores,
            "rationale": r.rationale,
            "status": r.status,
            "flags": r.flags,
            "gold_correct": r.gold_correct,
            "seconds": round(r.seconds_taken, 1),
            "reason": r.reason,
            "reward_msat": r.reward_msat,
        }
        for r in ratings[:limit]
    ]


def batch_dashboard(*, batch: Batch) -> dict[str, Any]:
    """What a requester watches per batch: progress, quality, spend, and who to look at."""
    stats = list(
        BatchWorkerStats.objects.filter(batch=batch).select_related("worker").order_by("worker_id")
    )
    buckets = [0] * 5  # gold accuracy 0-20 %, ..., 80-100 %
    for row in stats:
        if row.gold_seen:
            buckets[min(4, int(5 * row.gold_correct / row.gold_seen))] += 1
    history: dict[int, list[float]] = defaultdict(list)
    for worker_id, value in TrustSnapshot.objects.filter(
        worker_id__in=[row.worker_id for row in stats]
    ).values_list("worker_id", "trust"):
        history[worker_id].append(value)
    flagged = dict(
        batch.ratings.exclude(flags=[])
        .values("worker_id")
        .annotate(n=Count("id"))
        .values_list("worker_id", "n")
    )
    workers = [
        {
            "worker_id": row.worker_id,
            "trust": row.worker.trust,
            "gold": f"{row.gold_correct}/{row.gold_seen}",
            "closed": row.qualified is False or is_paused(worker=row.worker, batch=batch),
            "flagged": flagged.get(row.worker_id, 0),
            "history": history.get(row.worker_id, []),
        }
        for row in stats
    ]
    return {
        "progress": batch_progress(batch=batch),
        "by_status": dict(
            batch.ratings.values_list("status").annotate(n=Count("id")).values_list("status", "n")
        ),
        "gold_accuracy": [(f"{20 * i}-{20 * (i + 1)}%", n) for i, n in enumerate(buckets)],
        "workers": sorted(workers, key=lambda w: (not w["closed"], -w["flagged"], w["trust"])),
    }


@dataclass(frozen=True)
class AnsweredResponse:
    """One response of a rated item, with what the rating said about it."""

    key: str
    text: str
    rank: int | None  # 1 = best (pairwise and ranking)
    score: int | None  # Likert
    shown_at: int | None  # 1 = first card in this worker's order
    gold_rank: int | None  # on gold items: the known answer's place


def ratings_with_texts(ratings: QuerySet[Rating]) -> QuerySet[Rating]:
    """Ratings with their prompt and response texts loaded in a fixed number of queries."""
    return ratings.select_related("batch", "item", "worker", "assignment").prefetch_related(
        Prefetch("item__responses", to_attr="task_responses")
    )


def answered_responses(*, rating: Rating) -> list[AnsweredResponse]:
    """The rating's answer over the item's texts: best first for a ranking (or a pair),
    in the item's order with each score for Likert. Needs `ratings_with_texts`."""
    ranks = {key: rank for rank, key in enumerate(rating.ranking or [], start=1)}
    scores = rating.scores or {}
    order = {key: place for place, key in enumerate(rating.assignment.order, start=1)}
    gold = {key: rank for rank, key in enumerate(rating.item.gold or [], start=1)}
    responses = [
        AnsweredResponse(
            key=response.key,
            text=response.text,
            rank=ranks.get(response.key),
            score=scores.get(response.key),
            shown_at=order.get(response.key),
            gold_rank=gold.get(response.key),
        )
        for response in rating.item.task_responses
    ]
    if ranks:
        responses.sort(key=lambda response: ranks.get(response.key, len(ranks) + 1))
    return responses


def staged_upload(*, requester: Requester, upload_id: int) -> StagedUpload | None:
    """The requester's kept batch file, unless it has expired."""
    fresh_since = timezone.now() - StagedUpload.LIFETIME
    return StagedUpload.objects.filter(
        id=upload_id, requester=requester, created_at__gte=fresh_since
    ).first()
