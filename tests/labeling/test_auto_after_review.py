"""Batches in review mode "auto_after" approve unflagged ratings once they waited long enough."""

from datetime import timedelta

from django.utils import timezone

from labeling.services import review as review_services
from tests.labeling.quality_helpers import answer


def test_auto_after_approves_unflagged_ratings_once_they_waited(make_batch, worker):
    make_batch("pairwise", quality={"review_mode": "auto_after", "review_after_hours": 1})
    rating = answer(worker, lambda a: "a")
    assert rating.status == "pending_review"
    assert review_services.approve_overdue() == 0
    assert review_services.approve_overdue(now=timezone.now() + timedelta(hours=2)) == 1
    rating.refresh_from_db()
    assert rating.status == "approved"
