"""A worker whose trust fell below the batch's threshold gets no more of its tasks."""

import pytest

from labeling import services
from labeling.errors import DomainError
from labeling.models import Rating, Worker
from tests.labeling.quality_helpers import plain_items


def test_a_paused_worker_gets_no_more_tasks_and_late_answers_are_refused(make_batch, worker):
    make_batch("pairwise", items=plain_items(3))
    open_one = services.next_assignment_for(worker=worker)
    Worker.objects.filter(id=worker.id).update(gold_seen=10, gold_correct=1)
    worker.refresh_from_db()
    with pytest.raises(DomainError) as refused:
        services.submit_rating(worker=worker, assignment_id=open_one.id, ranking=["a", "b"])
    assert refused.value.status_code == 403
    assert not Rating.objects.exists()
    assert services.next_assignment_for(worker=worker) is None
