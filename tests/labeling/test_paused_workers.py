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
