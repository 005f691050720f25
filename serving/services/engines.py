"""Where a served model's engine answers: written by `serve_models` as it starts and stops
engine processes."""

from django.db import transaction

from ..models import ServedModel


def managed_models() -> list[ServedModel]:
    """Published models whose engine `serve_models` runs (the others point at an upstream)."""
    return list(
        ServedModel.objects.filter(published=True, engine_managed=True).select_related("run")
    )


def set_engine_url(*, served_model_id: int, url: str) -> None:
    with transaction.atomic():
        ServedModel.objects.filter(id=served_model_id).update(engine_url=url)


def clear_managed_engine_urls(*, urls: list[str]) -> None:
    with transaction.atomic():
        ServedModel.objects.filter(engine_managed=True, engine_url__in=urls).update(engine_url="")


def point_at_engine(*, served_model_id: int, managed: bool, url: str, upstream_model: str) -> None:
    """The operator's choice: `serve_models` runs the engine (managed), or an upstream at
    `url` (vLLM's base URL) answers, under `upstream_model` if it names the model otherwise."""
    with transaction.atomic():
        ServedModel.objects.filter(id=served_model_id).update(
            engine_managed=managed, engine_url=url.strip(), upstream_model=upstream_model.strip()
        )
