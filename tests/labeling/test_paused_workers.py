"""A worker whose trust fell below the batch's threshold gets no more of its tasks."""

import pytest

from core.errors import DomainError
from labeling.models import Rating, Worker
from labeling.services import assignments as assignment_services
from labeling.services import ratings as rating_services
from tests.labeling.quality_helpers import plain_items


def test_a_paused_worker_gets_no_more_tasks_and_late_answers_are_refused(make_batch, worker):
    make_batch("pairwise", items=plain_items(3))
    open_one = assignment_services.next_assignment_for(worker=worker)
    Worker.objects.filter(id=worker.id).update(gold_seen=10, gold_correct=1)
    worker.refresh_from_db()
    with pytest.raises(DomainError) as refused:
        rating_services.submit_rating(worker=worker, assignment_id=open_one.id, ranking=["a", "b"])
    assert refused.value.status_code == 403
    assert not Rating.objects.exists()
    assert assignment_services.next_assignment_for(worker=worker) is None


def test_a_worker_on_probation_is_judged_by_its_test_not_paused_by_trust(make_batch, make_worker):
    make_batch("pairwise", items=plain_items(3))
    newcomer = make_worker(on_probation=True)
    # An unlucky start (trust 0.47 over ten checks) that the probation test leaves open.
    Worker.objects.filter(id=newcomer.id).update(gold_seen=10, gold_correct=4)
    newcomer.refresh_from_db()
    assert newcomer.trust < 0.5
    open_one = assignment_services.next_assignment_for(worker=newcomer)
    assert open_one is not None
    rating = rating_services.submit_rating(
        worker=newcomer, assignment_id=open_one.id, ranking=["a", "b"]
    )
    assert rating.status == Rating.Status.PENDING_REVIEW
    newcomer.refresh_from_db()
    assert newcomer.standing == Worker.Standing.PROBATION
