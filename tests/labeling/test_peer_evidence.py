"""Agreement with the crowd counts for probation only as far as the other voters make an
answer likely: a vote is never credited for agreeing with an answer it made itself."""

import math
import random

from labeling.quality import trust
from labeling.quality.aggregation import Vote, dawid_skene


def log_ratio(right: float, seen: int) -> float:
    """The probation test's log likelihood ratio (careful over random) of `right` of `seen`."""
    careful, rand = trust.PROBATION_CAREFUL, trust.PROBATION_RANDOM
    return right * math.log(careful / rand) + (seen - right) * math.log((1 - careful) / (1 - rand))


def vote(worker: int, item: int, right: bool) -> Vote:
    return Vote(worker, item, *(("x", "y") if right else ("y", "x")))


def test_breaking_a_tie_between_two_others_is_no_evidence():
    votes = [vote(1, 0, True), vote(2, 0, False), vote(3, 0, True)]
    seen, right = trust.peer_evidence(votes, accuracy={1: 0.8, 2: 0.8, 3: 0.5}, skip=set())
    assert seen[3] == 1
    assert abs(log_ratio(right[3], 1)) < 1e-9


def test_agreeing_with_two_sure_others_counts_nearly_as_a_right_answer():
    votes = [vote(1, 0, True), vote(2, 0, True), vote(3, 0, True), vote(4, 0, False)]
    accuracy = {1: 0.9, 2: 0.9, 3: 0.7, 4: 0.7}
    _, right = trust.peer_evidence(votes, accuracy=accuracy, skip=set())
    assert right[3] > 0.9  # nearly one right out of one
    assert right[4] < 0.2  # nearly one wrong


def test_a_random_clicker_among_careful_workers_earns_no_credit_from_its_own_votes():
    rng = random.Random(7)
    votes = []
    for item in range(400):
        for worker in (1, 2):  # careful: right 80% of the time
            votes.append(vote(worker, item, rng.random() < 0.8))
        votes.append(vote(3, item, rng.random() < 0.5))  # a random clicker
    result = dawid_skene(votes)
    seen, right = trust.peer_evidence(votes, accuracy=result.accuracy, skip=set())
    assert log_ratio(right[3], seen[3]) < 0  # evidence against it, not for it
    assert log_ratio(right[1], seen[1]) > 10  # and a careful worker's evidence grows


def test_gold_pairs_are_left_to_the_gold_counts():
    votes = [vote(1, 0, True), vote(2, 0, True)]
    seen, _ = trust.peer_evidence(votes, accuracy={1: 0.8, 2: 0.8}, skip={(0, "x", "y")})
    assert not seen
