"""A batch's entry test: gold items first; a failed test closes the batch to the worker."""

from labeling import selectors
from labeling.services import assignments as assignment_services
from tests.labeling.quality_helpers import answer, gold_items, plain_items


def test_entry_test_serves_gold_first_and_a_failed_test_closes_the_batch(make_batch, make_worker):
    batch = make_batch(
        "pairwise",
        items=gold_items(3) + plain_items(6),
        quality={"qualification_size": 2, "qualification_pass": 1.0},
    )
    passing, failing = make_worker(), make_worker()
    for _ in range(2):
        rating = answer(passing, lambda a: "a")
        assert rating.item.gold is not None  # only gold until the test is done
    passing.refresh_from_db()
    later = [answer(passing, lambda a: "a").item for _ in range(3)]
    assert any(item.gold is None for item in later)  # passed: plain items are served
    answer(failing, lambda a: "a")
    failing.refresh_from_db()
    answer(failing, lambda a: "b")
    failing.refresh_from_db()
    assert selectors.batch_closed_to(worker=failing, batch=batch)
    assert assignment_services.next_assignment_for(worker=failing) is None
    assert not selectors.batch_closed_to(worker=passing, batch=batch)
