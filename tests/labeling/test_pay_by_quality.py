"""Pay by quality: trusted workers are shown, and paid, the batch's bonus."""

from django.urls import reverse

from labeling.models import Worker
from labeling.services import batches as batch_services
from labeling.services import ratings as rating_services
from tests.conftest import client_for
from tests.labeling.quality_helpers import plain_items


def test_pay_by_quality_bonus_goes_to_trusted_workers_and_is_shown_first(make_batch, make_worker):
    batch = make_batch(
        "pairwise",
        items=plain_items(2),
        overlap=2,
        reward_msat=10_000,
        quality={"bonus_percent": 20, "bonus_trust": 0.8},
    )
    assert batch_services.cost_of(batch) == 12_000 * 4  # reserved at the highest pay
    trusted, newcomer = make_worker(), make_worker()
    Worker.objects.filter(id=trusted.id).update(gold_seen=20, gold_correct=20)
    trusted.refresh_from_db()
    shown = client_for(trusted.user).get(reverse("task-next")).json()
    assert shown["reward_msat"] == 12_000
    assert shown["bonus"] == {"bonus_msat": 2_000, "min_trust": 0.8, "your_trust": 0.92}
    assert client_for(newcomer.user).get(reverse("task-next")).json()["reward_msat"] == 10_000
    paid = rating_services.submit_rating(
        worker=trusted, assignment_id=shown["assignment_id"], ranking=["a", "b"]
    )
    assert paid.reward_msat == 12_000 and paid.status == "approved"
    assert client_for(trusted.user).get(reverse("me")).json()["balance_msat"] == 12_000
