"""Assignments: the next task chosen and leased, expired, skipped or reported.

Concurrency is decided in the database: item slots and assignment states only change
through conditional UPDATEs (labeling/sql.py), and unique constraints back them up.
"""

import random
from datetime import datetime, timedelta

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import F
from django.utils import timezone

from core import sql as core_sql
from core.errors import NotFound

from .. import selectors, sql
from ..errors import AlreadySubmitted, AssignmentClosed, AssignmentExpired, InvalidAnswer
from ..models import Assignment, Batch, Item, Report, Requester, Worker
from ..quality import trust


def next_assignment_for(*, worker: Worker, client: str = "") -> Assignment | None:
    """The worker's open assignment, else a new one on an item they have not seen.

    The worker's row is locked first: one claim at a time per worker, so parallel
    requests from one phone neither take two slots nor see a spurious "no task".
    Entry tests: until a worker passed a batch's test it is served only its gold items;
    a failed test closes the batch to the worker. `client` (see review.note_client) closes
    a new key behind a closed worker's client before it takes any slot.
    """
    if client:
        from .review import note_client  # review imports this module

        note_client(worker=worker, client=client)
    if worker.standing == Worker.Standing.CLOSED:
        return None
    expired_freed = False
    for _ in range(3):
        now = timezone.now()
        try:
            with transaction.atomic():
                open_id = sql.lock_worker(worker_id=worker.id)
                if open_id is not None:
                    current = selectors.assignment_with_task(assignment_id=open_id)
                    if current.expires_at > now:
                        return current
                    _expire(assignment=current)
                item = sql.claim_item(worker=worker, check_trust=trust.pause_applies(worker))
                if item is not None:
                    item.batch, item.task_responses = sql.batch_and_responses(item=item)
                    keys = [response.key for response in item.task_responses]
                    return core_sql.insert(
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


def free_slot(*, item_id: int) -> None:
    Item.objects.filter(id=item_id).update(slots_left=F("slots_left") + 1)


def _expire(*, assignment: Assignment) -> None:
    with transaction.atomic():
        if Assignment.objects.filter(id=assignment.id, status=Assignment.Status.OPEN).update(
            status=Assignment.Status.EXPIRED
        ):
            free_slot(item_id=assignment.item_id)
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


def answerable_assignment(*, worker: Worker, assignment_id: int) -> Assignment:
    """The worker's assignment (item and batch loaded) if it can still be answered;
    the error the worker should see otherwise."""
    assignment = sql.workers_assignment(assignment_id=assignment_id, worker_id=worker.id)
    if assignment is None:
        raise NotFound("No such assignment.")
    if assignment.status == Assignment.Status.SUBMITTED:
        raise AlreadySubmitted()
    if assignment.status == Assignment.Status.SKIPPED:
        raise AssignmentClosed()
    if assignment.status == Assignment.Status.EXPIRED or assignment.expires_at <= timezone.now():
        _expire(assignment=assignment)
        raise AssignmentExpired()
    if assignment.item.batch.status in Batch.CLOSED_STATUSES:
        # Its reservation was released: nothing is left to pay an answer with.
        _expire(assignment=assignment)
        raise AssignmentExpired("This batch was closed by its requester.")
    return assignment


def close_assignment(*, assignment: Assignment, status: str, now: datetime) -> None:
    """Moves an open assignment to `status` exactly once; raises if another request won."""
    if sql.close_assignment(assignment_id=assignment.id, status=status, now=now):
        return
    assignment.refresh_from_db(fields=["status", "expires_at"])
    if assignment.status == Assignment.Status.SUBMITTED:
        raise AlreadySubmitted()
    if assignment.status == Assignment.Status.SKIPPED:
        raise AssignmentClosed()
    raise AssignmentExpired()


def give_back(*, assignment: Assignment) -> None:
    """Closes the assignment as skipped and frees its slot for another worker."""
    with transaction.atomic():
        close_assignment(
            assignment=assignment, status=Assignment.Status.SKIPPED, now=timezone.now()
        )
        free_slot(item_id=assignment.item_id)


def skip_assignment(*, worker: Worker, assignment_id: int) -> Assignment:
    """Frees the slot for others; this worker is not offered the item again."""
    assignment = answerable_assignment(worker=worker, assignment_id=assignment_id)
    give_back(assignment=assignment)
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


def set_item_blocked(*, item: Item, blocked: bool) -> None:
    """The requester stops serving an item (or serves it again)."""
    Item.objects.filter(id=item.id).update(blocked=blocked)
    item.blocked = blocked


@transaction.atomic
def resolve_reports(*, report_ids: list[int], requester: Requester | None) -> int:
    """The requester looked at the reported items: the reports are resolved and the items
    served again. `requester` None: an operator (superuser) may resolve any report."""
    reports = Report.objects.filter(id__in=report_ids)
    if requester is not None:
        reports = reports.filter(item__batch__requester=requester)
    items = list(reports.values_list("item_id", flat=True))
    resolved = Report.objects.filter(id__in=reports.values("id")).update(resolved=True)
    Item.objects.filter(id__in=items).update(blocked=False)
    return resolved
