"""Labeling's hand-written statements: the ones on every task request (see core.sql)."""

import json
from datetime import datetime
from functools import cache
from typing import Any

from django.contrib.auth import get_user_model
from django.db import connection
from rest_framework.authtoken.models import Token

from core import sql

from .models import (
    Assignment,
    Batch,
    BatchWorkerStats,
    Item,
    Rating,
    Requester,
    Response,
    Worker,
)
from .quality.aggregation import Vote, votes_from_answer
from .quality.trust import PROBATION_HELD_CAP, TRUSTED_GOLD_PER_BATCH, vote_accuracy


@cache
def _claim_sql(*, vendor: str, check_trust: bool, on_probation: bool) -> str:
    """Takes one slot of the first item a worker may rate, in one statement.

    The inner SELECT skips items other claims hold (PostgreSQL), so concurrent workers
    spread over items instead of queueing on one; the UPDATE re-checks the slot count,
    which is the guard where rows are not locked. A worker on probation with its cap of
    held ratings is served gold items only, which settle its probation. A trusted worker
    answers a few gold items per batch (TRUSTED_GOLD_PER_BATCH, or the entry test's size),
    so gold slots are left for the workers whose pay waits on them.
    """
    item, batch = sql.table(Item), sql.table(Batch)
    lock = " FOR UPDATE OF i SKIP LOCKED" if vendor == "postgresql" else ""
    stats = (
        f"SELECT 1 FROM {sql.table(BatchWorkerStats)} s"
        " WHERE s.batch_id = i.batch_id AND s.worker_id = %(worker)s"
    )
    held_cap = (
        f"AND (i.gold IS NOT NULL OR (SELECT COUNT(*) FROM {sql.table(Rating)} r"
        " WHERE r.worker_id = %(worker)s AND r.status = %(pending)s"
        " AND r.gold_correct IS NULL) < %(cap)s)"
    )
    gold_quota = (
        f"AND (i.gold IS NULL OR NOT EXISTS ({stats} AND s.gold_seen >= %(gold_quota)s"
        " AND s.gold_seen >= b.qualification_size))"
    )
    return f"""
        UPDATE {item} SET slots_left = slots_left - 1
        WHERE slots_left > 0 AND id = (
            SELECT i.id FROM {item} i JOIN {batch} b ON b.id = i.batch_id
            WHERE b.status = %(open)s AND i.slots_left > 0 AND NOT i.blocked
            AND NOT EXISTS (
                SELECT 1 FROM {sql.table(Assignment)} a
                WHERE a.worker_id = %(worker)s AND a.item_id = i.id
            )
            {"AND b.pause_below_trust <= %(trust)s" if check_trust else ""}
            AND NOT EXISTS ({stats} AND s.qualified = %(false)s)
            AND (b.qualification_size = 0 OR i.gold IS NOT NULL
                 OR EXISTS ({stats} AND s.qualified = %(true)s))
            {held_cap if on_probation else gold_quota}
            ORDER BY i.batch_id, i.id LIMIT 1{lock}
        )
        RETURNING {sql.columns(Item, item)}
    """


def claim_item(*, worker: Worker, check_trust: bool) -> Item | None:
    """Takes one slot of the first item this worker may rate (see `_claim_sql`)."""
    row = sql.fetch(
        _claim_sql(
            vendor=connection.vendor,
            check_trust=check_trust,
            on_probation=worker.standing == Worker.Standing.PROBATION,
        ),
        {
            "worker": worker.id,
            "pending": Rating.Status.PENDING_REVIEW,
            "cap": PROBATION_HELD_CAP,
            "gold_quota": TRUSTED_GOLD_PER_BATCH,
            "open": Batch.Status.OPEN,
            "trust": worker.trust,
            "true": True,
            "false": False,
        },
    )
    return None if row is None else sql.from_row(Item, row)[0]


def item_votes(*, item_id: int) -> tuple[list[Vote], dict[int, float]]:
    """The votes of an item's ratings not rejected, and how far each voter's vote is to be
    trusted (trust.vote_accuracy), in one SELECT."""
    rows = sql.fetch_all(
        f"SELECT r.worker_id, r.ranking, r.scores, w.gold_seen, w.gold_correct, w.peer_seen,"
        f" w.peer_agree FROM {sql.table(Rating)} r JOIN {sql.table(Worker)} w"
        " ON w.id = r.worker_id WHERE r.item_id = %s AND r.status <> %s",
        [item_id, Rating.Status.REJECTED],
    )
    votes, accuracy = [], {}
    for worker_id, ranking, scores, gold_seen, gold_correct, peer_seen, peer_agree in rows:
        votes += votes_from_answer(
            worker=worker_id, item=item_id, ranking=_json(ranking), scores=_json(scores)
        )
        accuracy[worker_id] = vote_accuracy(
            gold_seen=gold_seen,
            gold_correct=gold_correct,
            peer_seen=peer_seen,
            peer_agree=peer_agree,
        )
    return votes, accuracy


def _json(value: Any) -> Any:
    return json.loads(value) if isinstance(value, str) else value


def add_slot(*, item_id: int, max_votes: int) -> int:
    """Opens one more slot on an item whose slots are all taken, unless its ratings (not
    rejected) and open assignments already reach `max_votes`. Returns rows changed."""
    return sql.execute(
        f"UPDATE {sql.table(Item)} SET slots_left = slots_left + 1"
        " WHERE id = %s AND slots_left = 0 AND"
        f" (SELECT COUNT(*) FROM {sql.table(Rating)} r WHERE r.item_id = %s AND r.status <> %s)"
        f" + (SELECT COUNT(*) FROM {sql.table(Assignment)} a WHERE a.item_id = %s"
        " AND a.status = %s) < %s",
        [
            item_id,
            item_id,
            Rating.Status.REJECTED,
            item_id,
            Assignment.Status.OPEN,
            max_votes,
        ],
    )


def lock_worker(*, worker_id: int) -> int | None:
    """Locks the worker's row; returns the id of its open assignment, if any."""
    # NO KEY UPDATE: other transactions inserting rows that refer to this worker (their
    # foreign-key check takes KEY SHARE at commit) do not wait on it, nor deadlock with it.
    lock = (
        " FOR NO KEY UPDATE"
        if connection.vendor == "postgresql"
        else (" FOR UPDATE" if connection.features.has_select_for_update else "")
    )
    row = sql.fetch(
        f"SELECT (SELECT a.id FROM {sql.table(Assignment)} a WHERE a.worker_id = w.id"
        f" AND a.status = %s LIMIT 1) FROM {sql.table(Worker)} w WHERE w.id = %s{lock}",
        [Assignment.Status.OPEN, worker_id],
    )
    return row[0] if row else None


def batch_and_responses(*, item: Item) -> tuple[Batch, list[Response]]:
    """The item's batch and its responses in order, in one SELECT."""
    found = sql.fetch_all(
        f"SELECT {sql.columns(Batch, 'b')}, {sql.columns(Response, 'r')}"
        f" FROM {sql.table(Batch)} b JOIN {sql.table(Response)} r ON r.item_id = %s"
        " WHERE b.id = %s ORDER BY r.position",
        [item.id, item.batch_id],
    )
    batch, end = sql.from_row(Batch, found[0])
    return batch, [sql.from_row(Response, row, end)[0] for row in found]  # type: ignore[misc]


def workers_assignment(*, assignment_id: int, worker_id: int) -> Assignment | None:
    """The worker's assignment with its item and batch loaded, in one SELECT."""
    if not 0 < assignment_id <= sql.MAX_ID:
        return None  # SQLite cannot even bind such a number
    row = sql.fetch(
        f"SELECT {sql.columns(Assignment, 'a')}, {sql.columns(Item, 'i')},"
        f" {sql.columns(Batch, 'b')} FROM {sql.table(Assignment)} a"
        f" JOIN {sql.table(Item)} i ON i.id = a.item_id"
        f" JOIN {sql.table(Batch)} b ON b.id = i.batch_id"
        " WHERE a.id = %s AND a.worker_id = %s",
        [assignment_id, worker_id],
    )
    if row is None:
        return None
    assignment, end = sql.from_row(Assignment, row)
    assignment.item, end = sql.from_row(Item, row, end)  # type: ignore[union-attr]
    assignment.item.batch, _ = sql.from_row(Batch, row, end)  # type: ignore[union-attr]
    return assignment


def close_assignment(*, assignment_id: int, status: str, now: datetime) -> int:
    """Moves an open, unexpired assignment to `status`; returns the rows changed (0 or 1)."""
    return sql.execute(
        f"UPDATE {sql.table(Assignment)} SET status = %s, finished_at = %s"
        " WHERE id = %s AND status = %s AND expires_at > %s",
        [status, now, assignment_id, Assignment.Status.OPEN, now],
    )


@cache
def _token_sql() -> str:
    user = get_user_model()
    return (
        f"SELECT {sql.columns(Token, 't')}, {sql.columns(user, 'u')}, "
        f"{sql.columns(Worker, 'w')}, {sql.columns(Requester, 'r')} "
        f"FROM {sql.table(Token)} t "
        f"JOIN {sql.table(user)} u ON u.id = t.user_id "
        f"LEFT JOIN {sql.table(Worker)} w ON w.user_id = u.id "
        f"LEFT JOIN {sql.table(Requester)} r ON r.user_id = u.id "
        "WHERE t.key = %s"
    )


def token_with_user(key: str) -> tuple[Token, Any, Worker | None, Requester | None] | None:
    """The token, its user, and the user's worker and requester (None where absent)."""
    row = sql.fetch(_token_sql(), [key])
    if row is None:
        return None
    token, end = sql.from_row(Token, row)
    user, end = sql.from_row(get_user_model(), row, end)
    worker, end = sql.from_row(Worker, row, end)
    requester, _ = sql.from_row(Requester, row, end)
    return token, user, worker, requester  # type: ignore[return-value]
