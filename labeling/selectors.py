"""Reads of the labeling app: tasks as workers see them, progress, exports."""

from collections import defaultdict
from collections.abc import Iterator
from itertools import combinations
from typing import Any

from django.db.models import Count, Q, QuerySet, Sum

from .markdown import render_markdown
from .models import Assignment, Batch, Item, Rating, Requester, Worker


def assignment_with_task(*, assignment_id: int) -> Assignment:
    """An assignment with what its task page needs (item, batch, responses)."""
    return (
        Assignment.objects.select_related("item__batch")
        .prefetch_related("item__responses")
        .get(id=assignment_id)
    )


def task_payload(*, assignment: Assignment) -> dict[str, Any]:
    """The task as the worker sees it: responses in this assignment's own order."""
    item = assignment.item
    batch = item.batch
    texts = {response.key: response.text for response in item.responses.all()}
    return {
        "assignment_id": assignment.id,
        "expires_at": assignment.expires_at,
        "reward_msat": batch.reward_msat,
        "task": {
            "type": batch.task_type,
            "instructions": batch.instructions,
            "instructions_html": render_markdown(batch.instructions),
            "prompt": item.prompt,
            "responses": [{"id": key, "text": texts[key]} for key in assignment.order],
        },
    }


def worker_earnings(*, worker: Worker) -> dict[str, int]:
    """Earned from approved ratings and what is still pending review."""
    totals = worker.ratings.aggregate(
        earned=Sum("reward_msat", filter=Q(status=Rating.Status.APPROVED), default=0),
        pending=Sum("reward_msat", filter=Q(status=Rating.Status.PENDING_REVIEW), default=0),
        count=Count("id"),
    )
    return {
        "earned_msat": totals["earned"],
        "pending_msat": totals["pending"],
        "ratings_count": totals["count"],
    }


def batches_of(*, requester: Requester) -> QuerySet[Batch]:
    return Batch.objects.filter(requester=requester)


def batch_progress(*, batch: Batch) -> dict[str, Any]:
    totals = batch.ratings.aggregate(
        done=Count("id", filter=~Q(status=Rating.Status.REJECTED)),
        spent=Sum("reward_msat", filter=Q(status=Rating.Status.APPROVED), default=0),
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
    }


def _approved(batch: Batch) -> QuerySet[Rating]:
    return batch.ratings.filter(status=Rating.Status.APPROVED, item__gold__isnull=True)


def _pair_votes(ratings: list[Rating]) -> dict[tuple[str, str], int]:
    """votes[(a, b)] = how many ratings put a above b (Likert ties give no vote)."""
    votes: dict[tuple[str, str], int] = defaultdict(int)
    for rating in ratings:
        if rating.scores is not None:
            for a, b in combinations(rating.scores, 2):
                if rating.scores[a] != rating.scores[b]:
                    winner, loser = (a, b) if rating.scores[a] > rating.scores[b] else (b, a)
                    votes[(winner, loser)] += 1
        else:
            for i, a in enumerate(rating.ranking or []):
                for b in (rating.ranking or [])[i + 1 :]:
                    votes[(a, b)] += 1
    return votes


def _ratings_by_item(batch: Batch) -> dict[int, list[Rating]]:
    by_item: dict[int, list[Rating]] = defaultdict(list)
    for rating in _approved(batch).order_by("item_id", "id"):
        by_item[rating.item_id].append(rating)
    return by_item


def batch_agreement(*, batch: Batch) -> float | None:
    """Share of rater pairs on the same item that order each response pair alike.

    None until some item has two ratings. The quality module replaces this with
    Krippendorff's alpha.
    """
    agree = total = 0
    for ratings in _ratings_by_item(batch).values():
        winners = [{frozenset(pair): pair[0] for pair in _pair_votes([r])} for r in ratings]
        for first, second in combinations(winners, 2):
            for pair in first.keys() & second.keys():
                total += 1
                agree += first[pair] == second[pair]
    return round(agree / total, 4) if total else None


def export_trl(*, batch: Batch) -> Iterator[dict[str, str]]:
    """Preference pairs aggregated over the item's ratings by majority; ties dropped.

    A ranking of n responses gives its n·(n-1)/2 pairs. Gold items and anything not
    approved are left out.
    """
    by_item = _ratings_by_item(batch)
    items = Item.objects.in_bulk(list(by_item))
    texts: dict[int, dict[str, str]] = defaultdict(dict)
    for item_id, key, text in batch.items.values_list("id", "responses__key", "responses__text"):
        texts[item_id][key] = text
    for item_id, ratings in by_item.items():
        votes = _pair_votes(ratings)
        seen: set[frozenset[str]] = set()
        for (a, b), count in votes.items():
            pair = frozenset((a, b))
            if pair in seen or count <= votes.get((b, a), 0):
                continue
            seen.add(pair)
            yield {
                "prompt": items[item_id].prompt,
                "chosen": texts[item_id][a],
                "rejected": texts[item_id][b],
            }


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
