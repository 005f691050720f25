"""Batches: checked on upload, created with their items, closed once (cancelled or completed).

Closing is the one place where a batch leaves service: `batch_closed` tells payouts to
release what is left of the reservation, and a closed batch stays closed.
"""

from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.db import transaction
from django.utils.translation import gettext as _

from .. import signals
from ..errors import InvalidBatch
from ..models import Assignment, Batch, Item, Rating, Requester, Response, TaskType
from ..quality.options import clean_quality_options

RESPONSE_LIMITS = {TaskType.PAIRWISE: (2, 2), TaskType.RANKING: (2, 9), TaskType.LIKERT: (1, 9)}
MAX_TEXT = 100_000
MAX_OVERLAP = 50
DEFAULT_GOLD_OVERLAP = Batch._meta.get_field("gold_overlap").default
MAX_REWARD_MSAT = 100_000_000_000  # 1 BTC per rating: anything above is a typo
# What a requester may change on a batch after posting it (the admin's change form).
EDITABLE_FIELDS = (
    "name",
    "instructions",
    "review_mode",
    "auto_approve_trust",
    "review_after_hours",
    "pause_below_trust",
    "min_seconds",
)


@dataclass(frozen=True)
class ItemSpec:
    prompt: str
    responses: list[tuple[str, str]]  # (key, text)
    gold: list[str] | None


def validate_items(*, task_type: str, items: list[Any]) -> list[ItemSpec]:
    """Checks raw item dicts (from JSON or a file) and returns them as ItemSpecs."""
    low, high = RESPONSE_LIMITS[TaskType(task_type)]
    specs = []
    for index, raw in enumerate(items):
        where = (
            _("Line %(number)s") % {"number": raw["_line"]}
            if isinstance(raw, dict) and "_line" in raw
            else _("Item %(number)s") % {"number": index}
        )

        def fail(message: str, where: str = where) -> InvalidBatch:
            return InvalidBatch({"items": [f"{where}: {message}"]})

        if not isinstance(raw, dict):
            raise fail(_("expected an object with prompt and responses."))
        prompt = raw.get("prompt")
        if not isinstance(prompt, str) or not prompt.strip() or len(prompt) > MAX_TEXT:
            raise fail(_("prompt must be a non-empty string."))
        responses = raw.get("responses")
        if not isinstance(responses, list) or not low <= len(responses) <= high:
            raise fail(responses_needed(task_type, low, high, responses))
        pairs = []
        for response in responses:
            key = response.get("id") if isinstance(response, dict) else None
            text = response.get("text") if isinstance(response, dict) else None
            if not isinstance(key, str | int) or not str(key).strip() or len(str(key)) > 64:
                raise fail(_("every response needs an id (a short string)."))
            if not isinstance(text, str) or not text.strip() or len(text) > MAX_TEXT:
                raise fail(_("response %(id)s needs a non-empty text.") % {"id": repr(key)})
            pairs.append((str(key), text))
        keys = [key for key, _text in pairs]
        if len(set(keys)) != len(keys):
            raise fail(_("response ids must be unique within an item."))
        gold = raw.get("gold")
        if gold is not None:
            if not isinstance(gold, list) or sorted(map(str, gold)) != sorted(keys):
                raise fail(_("gold must list every response id once, best first."))
            gold = [str(key) for key in gold]
        specs.append(ItemSpec(prompt=prompt, responses=pairs, gold=gold))
    if not specs:
        raise InvalidBatch({"items": [_("A batch needs at least one item.")]})
    if len(specs) > settings.BATCH_MAX_ITEMS:
        raise InvalidBatch(
            {"items": [_("At most %(most)s items per batch.") % {"most": settings.BATCH_MAX_ITEMS}]}
        )
    return specs


def responses_needed(task_type: str, low: int, high: int, responses: Any) -> str:
    if low == high:
        needed = _("a %(type)s task needs exactly %(low)d responses")
    else:
        needed = _("a %(type)s task needs %(low)d to %(high)d responses")
    message = needed % {"type": task_type, "low": low, "high": high}
    if isinstance(responses, list):
        message += " " + _("(this one has %(n)d)") % {"n": len(responses)}
    return message + "."


def batch_cost(
    *,
    reward_msat: int,
    overlap: int,
    items_count: int,
    max_overlap: int | None = None,
    gold_count: int = 0,
    gold_overlap: int = DEFAULT_GOLD_OVERLAP,
    pay_gold: bool = True,
    bonus_percent: int = 0,
) -> int:
    """What a batch with these fields reserves when it is posted (Batch.cost_terms)."""
    return Batch(
        reward_msat=reward_msat,
        overlap=overlap,
        max_overlap=max_overlap or overlap,
        items_count=items_count,
        gold_count=gold_count,
        gold_overlap=gold_overlap,
        pay_gold=pay_gold,
        bonus_percent=bonus_percent,
    ).cost_msat


def new_batch(
    *,
    requester: Requester,
    name: str,
    task_type: str,
    instructions: str,
    reward_msat: int,
    overlap: int,
    items: list[ItemSpec],
    quality: dict[str, Any] | None = None,
    source_model: str = "",
    source_run_id: int | None = None,
    max_overlap: int | None = None,
) -> Batch:
    """The batch as `create_batch` stores it, checked but not saved: the admin's upload
    preview shows its `cost_terms()` and the `cost_msat` that creating it reserves.
    `source_*` name the served model (and its training run) that wrote the responses, if one
    did."""
    if not 1 <= overlap <= MAX_OVERLAP:
        raise InvalidBatch(
            {"overlap": [_("Overlap must be between 1 and %(most)d.") % {"most": MAX_OVERLAP}]}
        )
    max_overlap = overlap if max_overlap is None else max_overlap
    if not overlap <= max_overlap <= MAX_OVERLAP:
        raise InvalidBatch(
            {
                "max_overlap": [
                    _("Max overlap must be between the overlap and %(most)d.")
                    % {"most": MAX_OVERLAP}
                ]
            }
        )
    if not 0 <= reward_msat <= MAX_REWARD_MSAT:
        raise InvalidBatch({"reward_msat": [_("Reward must be between 0 and 1 BTC in msat.")]})
    batch = Batch(
        requester=requester,
        name=name,
        task_type=task_type,
        instructions=instructions,
        reward_msat=reward_msat,
        overlap=overlap,
        max_overlap=max_overlap,
        items_count=len(items),
        gold_count=sum(spec.gold is not None for spec in items),
        source_model=source_model,
        source_run_id=source_run_id,
        **clean_quality_options(quality or {}),
    )
    if batch.cost_msat > settings.BATCH_MAX_COST_MSAT:
        raise InvalidBatch(
            {
                "reward_msat": [
                    _("The batch would cost %(cost)d msat; at most %(most)d msat per batch.")
                    % {"cost": batch.cost_msat, "most": settings.BATCH_MAX_COST_MSAT}
                ]
            }
        )
    return batch


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
    source_model: str = "",
    source_run_id: int | None = None,
    max_overlap: int | None = None,
) -> Batch:
    """Creates the batch and its items; `quality` sets the Batch's review fields; `source_*`
    as in `new_batch`. `batch_created` reserves its cost (InsufficientBalance rolls it all
    back)."""
    batch = new_batch(
        requester=requester,
        name=name,
        task_type=task_type,
        instructions=instructions,
        reward_msat=reward_msat,
        overlap=overlap,
        items=items,
        quality=quality,
        source_model=source_model,
        source_run_id=source_run_id,
        max_overlap=max_overlap,
    )
    batch.save()
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


def _close(*, batch: Batch, status: str, only_from: tuple[str, ...]) -> bool:
    """Moves the batch to a closed status once; payouts releases what is left of its money."""
    with transaction.atomic():
        closed = Batch.objects.filter(id=batch.id, status__in=only_from).update(status=status)
        if closed:
            batch.status = status
            signals.batch_closed.send(sender=Batch, batch=batch)
    return bool(closed)


def cancel_batch(*, batch: Batch) -> bool:
    """The requester stops the batch for good. False if it was already closed."""
    return _close(
        batch=batch,
        status=Batch.Status.CANCELLED,
        only_from=(Batch.Status.OPEN, Batch.Status.PAUSED),
    )


def complete_batch(*, batch: Batch) -> bool:
    """Every slot is answered and decided. False if the batch was not open."""
    return _close(batch=batch, status=Batch.Status.COMPLETED, only_from=(Batch.Status.OPEN,))


@transaction.atomic
def update_batch(*, batch: Batch, changes: dict[str, Any]) -> Batch:
    """A requester edits a batch: its texts and review settings, and its status among
    open, paused and cancelled. A cancelled or completed batch stays as it is."""
    stored = Batch.objects.select_for_update().get(id=batch.id)
    status = changes.pop("status", stored.status)
    unknown = set(changes) - set(EDITABLE_FIELDS)
    if unknown:
        raise InvalidBatch({name: [_("This field cannot be changed.")] for name in sorted(unknown)})
    if status != stored.status:
        if stored.status in Batch.CLOSED_STATUSES:
            raise InvalidBatch({"status": [_("A cancelled or completed batch stays closed.")]})
        if status not in (Batch.Status.OPEN, Batch.Status.PAUSED, Batch.Status.CANCELLED):
            raise InvalidBatch({"status": [_("Open, pause or cancel the batch.")]})
    if changes:
        Batch.objects.filter(id=stored.id).update(**changes)
    if status == Batch.Status.CANCELLED and stored.status != status:
        cancel_batch(batch=stored)
    elif status != stored.status:
        Batch.objects.filter(id=stored.id).update(status=status)
    stored.refresh_from_db()
    return stored


def complete_finished_batches() -> int:
    """Completes open batches whose every slot is answered and decided.

    Items stopped by reports keep their open slots, so their batch stays open until its
    requester resolves the reports.
    """
    finished = (
        Batch.objects.filter(status=Batch.Status.OPEN)
        .exclude(items__slots_left__gt=0)
        .exclude(items__assignments__status=Assignment.Status.OPEN)
        .exclude(ratings__status=Rating.Status.PENDING_REVIEW)
    )
    return sum(complete_batch(batch=batch) for batch in finished.distinct())
