"""Publishing: the owner of a succeeded training run serves it under a name, with prices;
unpublishing takes it off /v1 (its tokens and history stay)."""

import re
from typing import Any

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone

from labeling.models import Requester
from rewardmodel import selectors as run_selectors
from rewardmodel.models import TrainingRun

from ..errors import PublishRefused, ServedModelNotFound
from ..models import ServedModel

NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}")
MAX_TOKENS = 32_768
MAX_PRICE_MSAT = 1_000_000_000  # per 1k tokens or per response: far above any sane price
KINDS = {
    TrainingRun.Kind.POLICY: ServedModel.Kind.POLICY,
    TrainingRun.Kind.REWARD_MODEL: ServedModel.Kind.REWARD,
}
PRICES = {
    ServedModel.Kind.POLICY: ("price_msat_per_1k_input", "price_msat_per_1k_output"),
    ServedModel.Kind.REWARD: ("price_msat_per_response",),
}


def publish_model(
    *, user: Any, run_id: int, name: str, prices: dict[str, int], max_tokens: int | None = None
) -> ServedModel:
    """Serves a succeeded run the user may see (the admin's rule: their own, or any for a
    superuser); the run's starter, a requester, owns it and earns from its calls."""
    run = (
        run_selectors.visible_runs(user=user).filter(id=run_id).select_related("started_by").first()
    )
    if run is None:
        raise PublishRefused({"run_id": ["No training run of yours has this id."]})
    if run.status != TrainingRun.Status.SUCCEEDED or not run.artifact_path:
        raise PublishRefused(
            {"run_id": [f"Only a succeeded run can be served (this one is {run.status})."]}
        )
    owner = Requester.objects.filter(user_id=run.started_by_id).first()
    if owner is None:
        raise PublishRefused({"run_id": ["This run was not started by a requester."]})
    if not isinstance(name, str) or not NAME.fullmatch(name):
        raise PublishRefused(
            {"name": ["1 to 64 letters, digits, '.', '_' or '-', starting with a letter or digit."]}
        )
    max_tokens = settings.SERVING_DEFAULT_MAX_TOKENS if max_tokens is None else max_tokens
    if (
        not isinstance(max_tokens, int)
        or isinstance(max_tokens, bool)
        or not 1 <= max_tokens <= MAX_TOKENS
    ):
        raise PublishRefused({"max_tokens": [f"A whole number from 1 to {MAX_TOKENS}."]})
    kind = KINDS[run.kind]
    wanted = PRICES[kind]
    other = [field for field in prices if field not in wanted]
    if other:
        raise PublishRefused({other[0]: [f"A {kind} model is priced by {' and '.join(wanted)}."]})
    for field in wanted:
        value = prices.get(field)
        if (
            not isinstance(value, int)
            or isinstance(value, bool)
            or not 0 <= value <= MAX_PRICE_MSAT
        ):
            raise PublishRefused({field: [f"A whole number of msat from 0 to {MAX_PRICE_MSAT}."]})
    try:
        with transaction.atomic():
            return ServedModel.objects.create(
                name=name,
                kind=kind,
                run=run,
                owner=owner,
                max_tokens=max_tokens,
                created_at=timezone.now(),
                **{field: prices[field] for field in wanted},
            )
    except IntegrityError:
        raise PublishRefused({"name": ["This name is taken."]}) from None


def owned_models(*, user: Any) -> Any:
    """The served models a user may manage: a superuser every one, a requester its own."""
    if user.is_superuser:
        return ServedModel.objects.all()
    return ServedModel.objects.filter(owner__user=user)


def unpublish_model(*, user: Any, served_model_id: int) -> ServedModel:
    with transaction.atomic():
        model = (
            owned_models(user=user)
            .select_for_update()
            .filter(id=served_model_id, published=True)
            .first()
        )
        if model is None:
            raise ServedModelNotFound()
        model.published, model.unpublished_at = False, timezone.now()
        model.save(update_fields=["published", "unpublished_at"])
    return model


def republish_model(*, user: Any, served_model_id: int) -> ServedModel:
    with transaction.atomic():
        model = (
            owned_models(user=user)
            .select_for_update()
            .filter(id=served_model_id, published=False)
            .first()
        )
        if model is None:
            raise ServedModelNotFound()
        model.published, model.unpublished_at = True, None
        model.save(update_fields=["published", "unpublished_at"])
    return model
