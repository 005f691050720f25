"""Every write of the labeling app: batches, assignments, ratings, skips and reports.

Concurrency is decided in the database: item slots and assignment states only change
through conditional UPDATEs, and unique constraints back them up.
"""

import random
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import cache
from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group, Permission
from django.db import IntegrityError, connection, transaction
from django.db.models import F
from django.utils import timezone
from rest_framework.authtoken.models import Token

from . import rows, selectors, signals
from .errors import (
    AlreadySubmitted,
    AssignmentClosed,
    AssignmentExpired,
    InvalidAnswer,
    InvalidBatch,
    NotFound,
)
from .models import (
    Assignment,
    Batch,
    Item,
    Rating,
    Report,
    Requester,
    Response,
    TaskType,
    Worker,
)
from .quality import review, trust

RESPONSE_LIMITS = {TaskType.PAIRWISE: (2, 2), TaskType.RANKING: (2, 9), TaskType.LIKERT: (1, 9)}
LIKERT_RANGE = range(1, 8)
MAX_TEXT = 100_000
MAX_OVERLAP = 50
MAX_REWARD_MSAT = 100_000_000_000  # 1 BTC per rating: anything above is a typo


@dataclass(frozen=True)
class ItemSpec:
    prompt: str
    responses: list[tuple[str, str]]  # (key, text)
    gold: list[str] | None


# --- batches -------------------------------------------------------------------------


def validate_items(*, task_type: str, items: list[Any]) -> list[ItemSpec]:
    """Checks raw item dicts (from JSON or a file) and returns them as ItemSpecs."""
    low, high = RESPONSE_LIMITS[TaskType(task_type)]
    specs = []
    for index, raw in enumerate(items):
        where = (
            f"Line {raw['_line']}"
            if isinstance(raw, dict) and "_line" in raw
            else (f"Item {index}")
        )

        def fail(message: str, where: str = where) -> InvalidBatch:
            return InvalidBatch({"items": [f"{where}: {message}"]})

        if not isinstance(raw, dict):
            raise fail("expected an object with prompt and responses.")
        prompt = raw.get("prompt")
        if not isinstance(prompt, str) or not prompt.strip() or len(prompt) > MAX_TEXT:
            raise fail("prompt must be a non-empty string.")
        responses = raw.get("responses")
        if not isinstance(responses, list) or not low <= len(responses) <= high:
            raise fail(f"a {task_type} task needs {low}..{high} responses.")
        pairs = []
        for response in responses:
            key = response.get("id") if isinstance(response, dict) else None
            text = response.get("text") if isinstance(response, dict) else None
            if not isinstance(key, str | int) or not str(key).strip() or len(str(key)) > 64:
                raise fail("every response needs an id (a short string).")
            if not isinstance(text, str) or not text.strip() or len(text) > MAX_TEXT:
                raise fail(f"response {key!r} needs a non-empty text.")
            pairs.append((str(key), text))
        keys = [key for key, _ in pairs]
        if len(set(keys)) != len(keys):
            raise fail("response ids must be unique within an item.")
        gold = raw.get("gold")
        if gold is not None:
            if not isinstance(gold, list) or sorted(map(str, gold)) != sorted(keys):
                raise fail("gold must list every response id once, best first.")
            gold = [str(key) for key in gold]
        specs.append(ItemSpec(prompt=prompt, responses=pairs, gold=gold))
    if not specs:
        raise InvalidBatch({"items": ["A batch needs at least one item."]})
    if len(specs) > settings.BATCH_MAX_ITEMS:
        raise InvalidBatch({"items": [f"At most {settings.BATCH_MAX_ITEMS} items per batch."]})
    return specs


@transaction.atomic
def create_batch(
    *,
    requester: Requester,
    name: str,
    task_type: str,
    instructions: str,
    reward_msat: int,
    overlap: int,
    items: list[ItemSpec],
    quality: dict[str, Any] | None = None,
) -> Batch:
    """Creates the batch and its items; `quality` sets the Batch's review fields."""
    if not 1 <= overlap <= MAX_OVERLAP:
        raise InvalidBatch({"overlap": [f"Overlap must be between 1 and {MAX_OVERLAP}."]})
    if not 0 <= reward_msat <= MAX_REWARD_MSAT:
        raise InvalidBatch({"reward_msat": ["Reward must be between 0 and 1 BTC in msat."]})
    batch = Batch.objects.create(
        requester=requester,
        name=name,
        task_type=task_type,
        instructions=instructions,
        reward_msat=reward_msat,
        overlap=overlap,
        items_count=len(items),
        gold_count=sum(spec.gold is not None for spec in items),
        **review.clean_quality_options(quality or {}),
    )
    items = spread_gold(items)
    created = Item.objects.bulk_create(
        Item(
            batch=batch,
            position=i,
            prompt=spec.prompt,
            gold=spec.gold,
            slots_left=overlap if spec.gold is None else batch.gold_overlap,
        )
        for i, spec in enumerate(items)
    )
    Response.objects.bulk_create(
        Response(item=item, key=key, text=text, position=p)
        for item, spec in zip(created, items, strict=True)
        for p, (key, text) in enumerate(spec.responses)
    )
    signals.batch_created.send(sender=Batch, batch=batch)
    return batch


def spread_gold(items: list[ItemSpec]) -> list[ItemSpec]:
    """Places gold items evenly among the others, so they are mixed into every stream.

    Items are served in order, so a gold item every k-th place is met at the batch's
    gold rate (the share of gold items), however the requester ordered the file.
    """
    gold = [spec for spec in items if spec.gold is not None]
    plain = [spec for spec in items if spec.gold is None]
    if not gold or not plain:
        return items
    step = len(items) / len(gold)
    slots = {int(i * step + step / 2) for i in range(len(gold))}
    gold_iter, plain_iter = iter(gold), iter(plain)
    return [next(gold_iter) if i in slots else next(plain_iter) for i in range(len(items))]


# --- assignments ---------------------------------------------------------------------


@cache
def _claim_sql(*, vendor: str, check_trust: bool) -> str:
    """Takes one slot of the first item a worker may rate, in one statement.

    The inner SELECT skips items other claims hold (PostgreSQL), so concurrent workers
    spread over items instead of queueing on one; the UPDATE re-checks the slot count,
    which is the guard where rows are not locked.
    """
    lock = " FOR UPDATE OF i SKIP LOCKED" if vendor == "postgresql" else ""
    stats = (
        "SELECT 1 FROM labeling_batchworkerstats s"
        " WHERE s.batch_id = i.batch_id AND s.worker_id = %(worker)s"
    )
    return f"""
        UPDATE labeling_item SET slots_left = slots_left - 1
        WHERE slots_left > 0 AND id = (
            SELECT i.id FROM labeling_item i JOIN labeling_batch b ON b.id = i.batch_id
            WHERE b.status = %(open)s AND i.slots_left > 0 AND NOT i.blocked
            AND NOT EXISTS (
                SELECT 1 FROM labeling_assignment a
                WHERE a.worker_id = %(worker)s AND a.item_id = i.id
            )
            {"AND b.pause_below_trust <= %(trust)s" if check_trust else ""}
            AND NOT EXISTS ({stats} AND s.qualified = %(false)s)
            AND (b.qualification_size = 0 OR i.gold IS NOT NULL
                 OR EXISTS ({stats} AND s.qualified = %(true)s))
            ORDER BY i.batch_id, i.id LIMIT 1{lock}
        )
        RETURNING {rows.columns(Item, "labeling_item")}
    """


def _claim_item(*, worker: Worker) -> Item | None:
    """Takes one slot of the first item this worker may rate, or returns None.

    Entry tests: until a worker passed a batch's test it is served only its gold items;
    a failed test closes the batch to the worker.
    """
    check_trust = worker.evidence >= trust.MIN_EVIDENCE_TO_PAUSE
    row = rows.fetch(
        _claim_sql(vendor=connection.vendor, check_trust=check_trust),
        {
            "worker": worker.id,
            "open": Batch.Status.OPEN,
            "trust": worker.trust,
            "true": True,
            "false": False,
        },
    )
    return None if row is None else rows.from_row(Item, row)[0]


def _lock_worker(*, worker: Worker) -> int | None:
    """Locks the worker's row and returns the id of its open assignment, if any.

    One claim at a time per worker, so parallel requests from one phone neither
    take two slots nor see a spurious "no task".
    """
    lock = " FOR UPDATE" if connection.features.has_select_for_update else ""
    row = rows.fetch(
        "SELECT (SELECT a.id FROM labeling_assignment a WHERE a.worker_id = w.id"
        f" AND a.status = %s LIMIT 1) FROM labeling_worker w WHERE w.id = %s{lock}",
        [Assignment.Status.OPEN, worker.id],
    )
    return row[0] if row else None


def _with_task(item: Item) -> Item:
    """Loads the item's batch and responses (as select/prefetch_related would) in one SELECT."""
    found = rows.fetch_all(
        f"SELECT {rows.columns(Batch, 'b')}, {rows.columns(Response, 'r')}"
        " FROM labeling_batch b JOIN labeling_response r ON r.item_id = %s"
        " WHERE b.id = %s ORDER BY r.position",
        [item.id, item.batch_id],
    )
    item.batch, end = rows.from_row(Batch, found[0])
    responses = [rows.from_row(Response, row, end)[0] for row in found]
    for response in responses:
        response.item = item
    cached = item.responses.all()
    cached._result_cache, cached._prefetch_done = responses, True
    item._prefetched_objects_cache = {"responses": cached}
    return item


def next_assignment_for(*, worker: Worker) -> Assignment | None:
    """The worker's open assignment, else a new one on an item they have not seen."""
    expired_freed = False
    for _ in range(3):
        now = timezone.now()
        try:
            with transaction.atomic():
                open_id = _lock_worker(worker=worker)
                if open_id is not None:
                    current = selectors.assignment_with_task(assignment_id=open_id)
                    if current.expires_at > now:
                        return current
                    _expire(assignment=current)
                item = _claim_item(worker=worker)
                if item is not None:
                    _with_task(item)
                    keys = [response.key for response in item.responses.all()]
                    return rows.insert(
                        Assignment(
                            worker=worker,
                            item=item,
                            order=random.sample(keys, len(keys)),  # per assignment: position bias
                            created_at=now,
                            expires_at=now + timedelta(seconds=settings.ASSIGNMENT_LEASE_SECONDS),
                        )
                    )
        except IntegrityError:
            # A parallel request of this worker committed an assignment while this one
            # waited for the lock (its snapshot could not see it): look again.
            continue
        if expired_freed or not expire_assignments():
            return None  # nothing left, and no expired lease to free
        expired_freed = True
    return None


def _expire(*, assignment: Assignment) -> None:
    with transaction.atomic():
        if Assignment.objects.filter(id=assignment.id, status=Assignment.Status.OPEN).update(
            status=Assignment.Status.EXPIRED
        ):
            Item.objects.filter(id=assignment.item_id).update(slots_left=F("slots_left") + 1)
    assignment.status = Assignment.Status.EXPIRED


def expire_assignments(*, now: datetime | None = None, limit: int = 1000) -> int:
    """Frees the slots of open assignments whose lease has run out. Returns how many."""
    now = now or timezone.now()
    stale = Assignment.objects.filter(status=Assignment.Status.OPEN, expires_at__lte=now)
    expired = 0
    for assignment in stale.only("id", "item_id", "status")[:limit]:
        _expire(assignment=assignment)
        expired += 1
    return expired


def _open_assignment(*, worker: Worker, assignment_id: int) -> Assignment:
    """The worker's assignment if it can still be answered; the right error otherwise."""
    row = rows.fetch(
        f"SELECT {rows.columns(Assignment, 'a')}, {rows.columns(Item, 'i')},"
        f" {rows.columns(Batch, 'b')} FROM labeling_assignment a"
        " JOIN labeling_item i ON i.id = a.item_id JOIN labeling_batch b ON b.id = i.batch_id"
        " WHERE a.id = %s AND a.worker_id = %s",
        [assignment_id, worker.id],
    )
    if row is None:
        raise NotFound("No such assignment.")
    assignment, end = rows.from_row(Assignment, row)
    assignment.item, end = rows.from_row(Item, row, end)
    assignment.item.batch, _ = rows.from_row(Batch, row, end)
    if assignment.status == Assignment.Status.SUBMITTED:
        raise AlreadySubmitted()
    if assignment.status == Assignment.Status.SKIPPED:
        raise AssignmentClosed()
    if assignment.status == Assignment.Status.EXPIRED or assignment.expires_at <= timezone.now():
        _expire(assignment=assignment)
        raise AssignmentExpired()
    if assignment.item.batch.status in (Batch.Status.CANCELLED, Batch.Status.COMPLETED):
        # Its reservation was released: nothing is left to pay an answer with.
        _expire(assignment=assignment)
        raise AssignmentExpired("This batch was closed by its requester.")
    return assignment


def _close(*, assignment: Assignment, status: str, now: datetime) -> None:
    """Moves an open assignment to `status` exactly once; raises if another request won."""
    at = connection.ops.adapt_datetimefield_value(now)
    closed = rows.execute(
        "UPDATE labeling_assignment SET status = %s, finished_at = %s"
        " WHERE id = %s AND status = %s AND expires_at > %s",
        [status, at, assignment.id, Assignment.Status.OPEN, at],
    )
    if not closed:
        assignment.refresh_from_db(fields=["status", "expires_at"])
        raise (
            AlreadySubmitted()
            if assignment.status == Assignment.Status.SUBMITTED
            else (
                AssignmentClosed()
                if assignment.status == Assignment.Status.SKIPPED
                else AssignmentExpired()
            )
        )


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
    assignment = _open_assignment(worker=worker, assignment_id=assignment_id)
    item = assignment.item
    batch = item.batch
    ranking, scores = check_answer(
        task_type=batch.task_type, keys=assignment.order, ranking=ranking, scores=scores
    )
    now = timezone.now()
    if review.is_paused(worker=worker, batch=batch):
        # A late answer from a worker paused meanwhile: the slot goes back to the crowd.
        with transaction.atomic():
            _close(assignment=assignment, status=Assignment.Status.SKIPPED, now=now)
            Item.objects.filter(id=item.id).update(slots_left=F("slots_left") + 1)
        raise review.WorkerPaused()
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
    status = review.status_for_new_rating(batch=batch, worker=worker, flags=flags)
    with transaction.atomic():
        _close(assignment=assignment, status=Assignment.Status.SUBMITTED, now=now)
        rating = rows.insert(
            Rating(
                assignment=assignment,
                worker=worker,
                item=item,
                batch=batch,
                ranking=ranking,
                scores=scores,
                rationale=rationale,
                status=status,
                reward_msat=batch.reward_for(worker, gold=item.gold is not None),
                shown_at=assignment.created_at,
                created_at=now,
                flags=flags,
                gold_correct=gold_correct,
                position=assignment.order.index(best_first[0]),
            )
        )
        if gold_correct is not None:
            review.record_gold(worker=worker, batch=batch, correct=gold_correct)
        if status == Rating.Status.APPROVED:
            signals.rating_approved.send(sender=Rating, rating=rating, held=False)
        else:
            signals.rating_held.send(sender=Rating, rating=rating)
    return rating


def skip_assignment(*, worker: Worker, assignment_id: int) -> Assignment:
    """Frees the slot for others; this worker is not offered the item again."""
    assignment = _open_assignment(worker=worker, assignment_id=assignment_id)
    with transaction.atomic():
        _close(assignment=assignment, status=Assignment.Status.SKIPPED, now=timezone.now())
        Item.objects.filter(id=assignment.item_id).update(slots_left=F("slots_left") + 1)
    return assignment


def report_assignment(*, worker: Worker, assignment_id: int, reason: str, note: str = "") -> Report:
    """Flags the item for its requester and skips it; enough reports stop serving it."""
    if reason not in Report.Reason.values:
        raise InvalidAnswer({"reason": [f"One of: {', '.join(Report.Reason.values)}."]})
    with transaction.atomic():
        assignment = skip_assignment(worker=worker, assignment_id=assignment_id)
        report = Report.objects.create(
            assignment=assignment,
            item_id=assignment.item_id,
            worker=worker,
            reason=reason,
            note=note[:5000],
        )
        reports = Report.objects.filter(item_id=assignment.item_id, resolved=False).count()
        if reports >= settings.REPORTS_TO_BLOCK_ITEM:
            Item.objects.filter(id=assignment.item_id).update(blocked=True)
    return report


# --- requesters ----------------------------------------------------------------------

REQUESTER_PERMISSIONS = (
    "add_batch",
    "change_batch",
    "view_batch",
    "view_item",
    "view_response",
    "view_rating",
    "view_report",
    "change_report",
)


@transaction.atomic
def create_requester(
    *, username: str, password: str | None = None, email: str = ""
) -> tuple[Requester, str]:
    """A requester with a staff (not superuser) login limited to its own batches."""
    if not username or get_user_model().objects.filter(username=username).exists():
        raise ValueError(f"The username {username!r} is empty or taken.")
    user = get_user_model().objects.create_user(username=username, email=email, password=password)
    if password is None:
        user.set_unusable_password()
    user.is_staff = True
    user.save()
    group, _ = Group.objects.get_or_create(name="Requesters")
    group.permissions.set(
        Permission.objects.filter(
            content_type__app_label="labeling", codename__in=REQUESTER_PERMISSIONS
        )
    )
    user.groups.add(group)
    requester = Requester.objects.create(user=user)
    return requester, Token.objects.create(user=user).key


def complete_finished_batches() -> int:
    """Marks open batches whose every slot is answered and decided as completed.

    Saving the status lets the payouts app release what is left of the reservation
    (unused bonuses, for instance). Items stopped by reports keep a batch open until
    its requester resolves them.
    """
    finished = (
        Batch.objects.filter(status=Batch.Status.OPEN)
        .exclude(items__slots_left__gt=0)
        .exclude(items__assignments__status=Assignment.Status.OPEN)
        .exclude(ratings__status=Rating.Status.PENDING_REVIEW)
    )
    completed = 0
    for batch in finished.distinct():
        with transaction.atomic():
            locked = Batch.objects.select_for_update().get(id=batch.id)
            if locked.status == Batch.Status.OPEN:
                locked.status = Batch.Status.COMPLETED
                locked.save(update_fields=["status"])
                completed += 1
    return completed
