"""A batch's quality options are checked when it is created."""

import pytest
from django.urls import reverse

from tests.labeling.test_batches_api import BATCH


@pytest.mark.parametrize(
    "quality",
    [
        {"review_mode": "sometimes"},
        {"auto_approve_trust": 2},
        {"pause_below_trust": -1},
        {"min_seconds": "fast"},
        {"bonus": 1},
        {"review_after_hours": True},
    ],
)
def test_a_batch_with_bad_quality_options_is_refused_with_400(requester_client, quality):
    response = requester_client.post(
        reverse("batch-create"), BATCH | {"quality": quality}, format="json"
    )
    assert response.status_code == 400
