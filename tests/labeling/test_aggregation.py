"""Aggregation on a simulated crowd: honest but noisy workers and spammers."""

import random

import pytest

from labeling.quality.aggregation import (
    Vote,
    aggregate,
    bradley_terry,
    dawid_skene,
    krippendorff_alpha,
    majority,
    votes_from_answer,
)


def crowd(*, items=300, gold=30, honest=20, spammers=5, overlap=3, right=0.8, seed=7):
    """Pairwise votes on items whose true winner is "a" (shown in random order).

    Items numbered from `items` on are gold: every worker rates them.
    """
    rng = random.Random(seed)
    workers = list(range(honest + spammers))
    votes = []
    for item in range(items + gold):
        for worker in rng.sample(workers, overlap) if item < items else workers:
            shown = rng.sample(["a", "b"], 2)
            if worker < honest:
                winner = "a" if rng.random() < right else "b"
            elif worker % 2:
                winner = shown[0]  # always the left/top card
            else:
                winner = rng.choice(shown)
            votes.append(Vote(worker, item, winner, "b" if winner == "a" else "a"))
    return votes, set(range(honest, honest + spammers))


def accuracy(winners, items):
    return sum(winners.get((i, "a", "b")) == "a" for i in range(items)) / items


def test_dawid_skene_with_gold_beats_majority_and_finds_the_spammers():
    votes, spammers = crowd()
    gold = {(item, "a", "b"): "a" for item in range(300, 330)}
    ds = dawid_skene(votes, gold=gold)
    assert accuracy(ds.winners, 300) > accuracy(majority(votes), 300)
    honest = set(ds.accuracy) - spammers
    assert max(ds.accuracy[w] for w in spammers) < min(ds.accuracy[w] for w in honest)
    mean = lambda ws: sum(ds.accuracy[w] for w in ws) / len(ws)  # noqa: E731
    assert mean(spammers) < 0.6 < 0.75 < mean(honest)


def test_bradley_terry_recovers_a_ranking_from_noisy_pairs():
    rng = random.Random(1)
    truth = list("abcdef")
    wins = {}
    for _ in range(400):
        i, j = sorted(rng.sample(range(len(truth)), 2))
        better, worse = truth[i], truth[j]
        if rng.random() < 0.25:
            better, worse = worse, better
        wins[(better, worse)] = wins.get((better, worse), 0) + 1
    strength = bradley_terry(wins)
    assert sorted(strength, key=lambda k: -strength[k]) == truth


def test_bradley_terry_stays_finite_when_one_answer_always_wins():
    strength = bradley_terry({("a", "b"): 5})
    assert strength["a"] > strength["b"] > 0


@pytest.mark.parametrize("method", ["majority", "dawid_skene", "bradley_terry"])
def test_every_method_agrees_on_a_clear_case(method):
    votes = [Vote(w, 1, "x", "y") for w in range(3)] + [Vote(9, 1, "y", "x")]
    assert aggregate(votes, method=method) == {(1, "x", "y"): "x"}


def test_unknown_method_is_an_error():
    with pytest.raises(ValueError):
        aggregate([], method="vibes")


def test_answers_become_votes():
    ranking = votes_from_answer(worker=1, item=2, ranking=["c", "a", "b"], scores=None)
    assert {(v.winner, v.loser) for v in ranking} == {("c", "a"), ("c", "b"), ("a", "b")}
    likert = votes_from_answer(worker=1, item=2, ranking=None, scores={"a": 3, "b": 3, "c": 7})
    assert {(v.winner, v.loser) for v in likert} == {("c", "a"), ("c", "b")}


def test_krippendorff_alpha_is_one_for_agreement_and_near_zero_for_chance():
    assert krippendorff_alpha(
        {1: ["a", "a"], 2: ["b", "b"], 3: ["a", "a"]}, level="nominal"
    ) == pytest.approx(1.0)
    rng = random.Random(3)
    noise = {u: [rng.choice([1, 2]) for _ in range(3)] for u in range(500)}
    assert abs(krippendorff_alpha(noise, level="nominal")) < 0.1
    assert krippendorff_alpha({1: [1]}, level="ordinal") is None
