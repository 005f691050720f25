"""A requester's admin filters offer only its own batches, not every requester's."""

from typing import Any

from django.test import Client

from labeling.models import Batch
from labeling.services.assignments import next_assignment_for
from labeling.services.ratings import submit_rating


def batch_choices(client: Client, model: str) -> list[str]:
    page = client.get(f"/admin/labeling/{model}/")
    assert page.status_code == 200
    changelist = page.context["cl"]
    return [
        choice["display"]
        for spec in changelist.filter_specs
        if getattr(spec, "field_path", "") == "batch"
        for choice in spec.choices(changelist)
    ]


def test_batch_filters_list_only_the_requesters_own_batches(
    make_batch: Any, make_requester: Any, make_worker: Any, requester: Any
) -> None:
    other = make_requester("other")
    for owner, name in [(requester, "A's batch"), (other, "B's first"), (other, "B's second")]:
        batch = make_batch(owner=owner)
        Batch.objects.filter(id=batch.id).update(name=name)
    worker = make_worker()
    while (assignment := next_assignment_for(worker=worker)) is not None:
        submit_rating(worker=worker, assignment_id=assignment.id, ranking=["a", "b"])
    client = Client()
    client.force_login(other.user)
    for model in ["item", "rating"]:
        assert sorted(batch_choices(client, model)) == ["All", "B's first", "B's second"], model


def test_filtering_by_a_batch_without_ratings_shows_none(
    make_batch: Any, make_worker: Any, requester: Any
) -> None:
    rated = make_batch()
    worker = make_worker()
    assignment = next_assignment_for(worker=worker)
    submit_rating(worker=worker, assignment_id=assignment.id, ranking=["a", "b"])
    unrated = make_batch()  # the only other batch: one batch with ratings, one choice
    client = Client()
    client.force_login(requester.user)
    for batch, shown in [(rated, 1), (unrated, 0)]:
        page = client.get("/admin/labeling/rating/", {"batch__id__exact": batch.id})
        assert page.context["cl"].result_count == shown
