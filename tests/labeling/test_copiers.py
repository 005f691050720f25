"""A key that copies another worker's answers (its mistakes included, just after it) is taken
for the same person and closed; two careful workers who agree are not."""

from labeling.models import Worker
from labeling.quality import trust
from labeling.services import review as review_services
from tests.labeling.quality_helpers import answer, gold_items, plain_items


def answers(worker: int, picks: str, *, wrong: str, start: float) -> list[trust.Answer]:
    return [
        trust.Answer(worker=worker, item=i, answer=p, wrong=i in wrong_at, at=start + 10 * i)
        for i, p in enumerate(picks)
        for wrong_at in [{j for j, w in enumerate(wrong) if w == "x"}]
    ]


def test_the_later_of_two_identical_answer_sequences_with_shared_mistakes_is_the_copier():
    picks = "aabbabab" + "aaaa"
    mistakes = "x...x......."
    source = answers(1, picks, wrong=mistakes, start=0)
    copy = answers(2, picks, wrong=mistakes, start=3)
    assert trust.copiers(source + copy) == {2: 1}
    # Agreeing on everything without a mistake: two careful workers.
    careful = [answers(w, picks, wrong="." * 12, start=3 * w) for w in (1, 2)]
    assert trust.copiers(careful[0] + careful[1]) == {}
    # One different answer: not a copy.
    assert trust.copiers(source + answers(2, "b" + picks[1:], wrong=mistakes, start=3)) == {}
    # Too few items in common to say.
    assert trust.copiers(source[:9] + copy[:9]) == {}


def test_a_copier_that_sometimes_answers_first_is_judged_on_the_items_it_could_copy():
    picks = "aabbabab" + "aaaa"
    mistakes = "x...x......."
    source = answers(1, picks, wrong=mistakes, start=0)
    copy = answers(2, picks, wrong=mistakes, start=3)
    # On three more items it came first, with nothing to copy, and answered otherwise (12 of
    # the 15 items they share, it answered second).
    first = [trust.Answer(worker=2, item=20 + i, answer="b", wrong=True, at=i) for i in range(3)]
    later = [trust.Answer(worker=1, item=20 + i, answer="a", wrong=False, at=500) for i in range(3)]
    assert trust.copiers(source + copy + first + later) == {2: 1}
    # Two careful workers, each first on half of the items they share, are no copiers.
    one = answers(1, picks, wrong=mistakes, start=0)
    other = [
        trust.Answer(
            worker=2,
            item=a.item,
            answer=a.answer,
            wrong=a.wrong,
            at=a.at + (3 if a.item % 2 else -3),
        )
        for a in one
    ]
    assert trust.copiers(one + other) == {}
    # Nor when ten of twenty shared items have the second one later, all answered alike.
    one = answers(1, "ab" * 10, wrong="x...x" + "." * 15, start=0)
    other = [
        trust.Answer(worker=2, item=a.item, answer=a.answer, wrong=a.wrong, at=a.at + 3)
        if a.item % 2 == 0
        else trust.Answer(worker=2, item=a.item, answer="b", wrong=True, at=a.at - 3)
        for a in one
    ]
    assert trust.copiers(one + other) == {}


def test_aggregation_closes_a_copier_and_rejects_what_it_has_waiting(make_batch, make_worker):
    batch = make_batch(
        "pairwise", items=plain_items(8) + gold_items(6), overlap=2, quality={"gold_overlap": 2}
    )
    # Both new: a trusted worker answers only a few gold items per batch.
    original, copier = make_worker(on_probation=True), make_worker(on_probation=True)
    for n in range(14):
        # The original errs on two gold items; the copier answers the same right after.
        rating = answer(original, lambda a, n=n: "b" if a.item.gold and n % 5 == 0 else "a")
        same = rating.ranking[0]
        assert answer(copier, lambda a, same=same: same).item_id == rating.item_id
    assert review_services.aggregate_batch(batch_id=batch.id)["copiers"] == 1
    copier.refresh_from_db()
    original.refresh_from_db()
    assert copier.standing == Worker.Standing.CLOSED
    assert f"the same answers as worker {original.id}" in copier.closed_reason
    assert not copier.ratings.filter(status="pending_review").exists()
    assert original.standing != Worker.Standing.CLOSED
