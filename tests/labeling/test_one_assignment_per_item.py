"""The database is the last line: one worker never holds two assignments of one item."""

import pytest
from django.db import IntegrityError, transaction

from labeling.models import Assignment
from labeling.services import assignments as assignment_services


def test_the_database_refuses_a_second_assignment_of_an_item_to_the_same_worker(make_batch, worker):
    make_batch("pairwise", overlap=3)
    first = assignment_services.next_assignment_for(worker=worker)
    with pytest.raises(IntegrityError), transaction.atomic():
        Assignment.objects.create(
            worker=worker,
            item=first.item,
            order=first.order,
            created_at=first.created_at,
            expires_at=first.expires_at,
            status="submitted",
        )
