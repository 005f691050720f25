"""Aggregating several workers' answers into one preference per response pair.

Everything here is plain Python/NumPy over `Vote`s, so it is unit-tested without a
database and reused by the export, the batch API and the benchmark.

- majority: each pair goes to the response more workers preferred (ties dropped);
- Dawid-Skene (one-coin, for two-way choices): EM over a per-worker accuracy, so
  reliable workers count more and random ones count for nothing;
- Bradley-Terry: per item, a strength per response from (weighted) pair wins, which
  orders all responses of a ranking consistently.
"""

import math
from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from itertools import combinations

import krippendorff
import numpy as np

Pair = tuple[int, str, str]  # (item id, key, key) with the keys sorted


@dataclass(frozen=True)
class Vote:
    worker: int
    item: int
    winner: str
    loser: str

    @property
    def pair(self) -> Pair:
        a, b = sorted((self.winner, self.loser))
        return (self.item, a, b)


def votes_from_answer(
    *, worker: int, item: int, ranking: list[str] | None, scores: Mapping[str, int] | None
) -> list[Vote]:
    """A ranking gives its n·(n-1)/2 pairs; Likert scores a pair wherever they differ."""
    if scores is not None:
        return [
            Vote(worker, item, *((a, b) if scores[a] > scores[b] else (b, a)))
            for a, b in combinations(scores, 2)
            if scores[a] != scores[b]
        ]
    ranking = ranking or []
    return [Vote(worker, item, a, b) for i, a in enumerate(ranking) for b in ranking[i + 1 :]]


def majority(votes: Iterable[Vote]) -> dict[Pair, str]:
    """Winner of each pair by plain majority; tied pairs are left out."""
    tally: dict[Pair, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    for vote in votes:
        tally[vote.pair][vote.winner] += 1
    winners = {}
    for pair, counts in tally.items():
        (first, n1), *rest = sorted(counts.items(), key=lambda kv: -kv[1])
        if not rest or n1 > rest[0][1]:
            winners[pair] = first
    return winners


@dataclass(frozen=True)
class DawidSkene:
    winners: dict[Pair, str]
    confidence: dict[Pair, float]  # posterior probability of the winner
    accuracy: dict[int, float]  # estimated per-worker accuracy


def dawid_skene(
    votes: Iterable[Vote],
    *,
    gold: Mapping[Pair, str] | None = None,
    iterations: int = 50,
    prior: tuple[float, float] = (4.0, 1.0),
) -> DawidSkene:
    """One-coin Dawid-Skene for two-way choices, with a Beta prior on each accuracy.

    Pairs with a known answer (`gold`) keep it throughout, which anchors the worker
    accuracies in evidence rather than in the crowd's own opinion.
    """
    votes = list(votes)
    if not votes:
        return DawidSkene({}, {}, {})
    pairs = sorted({v.pair for v in votes})
    workers = sorted({v.worker for v in votes})
    pair_index = {p: i for i, p in enumerate(pairs)}
    worker_index = {w: i for i, w in enumerate(workers)}
    p_idx = np.array([pair_index[v.pair] for v in votes])
    w_idx = np.array([worker_index[v.worker] for v in votes])
    says_first = np.array([1.0 if v.winner == v.pair[1] else 0.0 for v in votes])

    # Start from the majority: P(first key wins) per pair.
    first = np.bincount(p_idx, weights=says_first, minlength=len(pairs))
    total = np.bincount(p_idx, minlength=len(pairs))
    posterior = (first + 0.5) / (total + 1.0)
    known = np.full(len(pairs), np.nan)
    for pair, winner in (gold or {}).items():
        if pair in pair_index:
            known[pair_index[pair]] = 1.0 if winner == pair[1] else 0.0
    is_known = ~np.isnan(known)
    posterior[is_known] = known[is_known]
    accuracy = np.full(len(workers), 0.7)
    a, b = prior
    for _ in range(iterations):
        # M step: accuracy = expected share of a worker's votes that match the truth.
        agree = says_first * posterior[p_idx] + (1 - says_first) * (1 - posterior[p_idx])
        accuracy = (np.bincount(w_idx, weights=agree, minlength=len(workers)) + a - 1) / (
            np.bincount(w_idx, minlength=len(workers)) + a + b - 2
        )
        accuracy = np.clip(accuracy, 1e-3, 1 - 1e-3)
        # E step: log-odds that the first key wins, summed over the votes on each pair.
        weight = np.log(accuracy / (1 - accuracy))[w_idx]
        log_odds = np.bincount(
            p_idx, weights=np.where(says_first == 1, weight, -weight), minlength=len(pairs)
        )
        new = 1 / (1 + np.exp(-log_odds))
        new[is_known] = known[is_known]
        if np.max(np.abs(new - posterior)) < 1e-6:
            posterior = new
            break
        posterior = new
    winners, confidence = {}, {}
    for pair, p in zip(pairs, posterior, strict=True):
        if abs(p - 0.5) > 1e-9:
            winners[pair] = pair[1] if p > 0.5 else pair[2]
            confidence[pair] = float(max(p, 1 - p))
    return DawidSkene(winners, confidence, dict(zip(workers, map(float, accuracy), strict=True)))


def vote_log_odds(vote: Vote, *, accuracy: Mapping[int, float]) -> float:
    """What one vote says for its pair's first key: the log-odds of its worker's accuracy
    (at most 0.99; none below 0.5, so no vote counts against what it chose), signed."""
    p = min(0.99, max(0.5, accuracy.get(vote.worker, 0.5)))
    weight = math.log(p / (1 - p))
    return weight if vote.winner == vote.pair[1] else -weight


def item_confidence(votes: Iterable[Vote], *, accuracy: Mapping[int, float]) -> float:
    """How sure one item's answer is: the lowest posterior over its pairs, each vote
    weighted by `vote_log_odds`. 0.5 for an item without votes."""
    log_odds: dict[Pair, float] = defaultdict(float)
    for vote in votes:
        log_odds[vote.pair] += vote_log_odds(vote, accuracy=accuracy)
    if not log_odds:
        return 0.5
    return min(1 / (1 + math.exp(-abs(odds))) for odds in log_odds.values())


def bradley_terry(
    wins: Mapping[tuple[str, str], float], *, iterations: int = 200, prior: float = 0.1
) -> dict[str, float]:
    """Strength per response from (possibly weighted) pair wins, by Hunter's MM updates.

    `wins[(a, b)]` is how much evidence says a beats b. A small symmetric prior keeps
    strengths finite when one response wins every comparison.
    """
    keys = sorted({k for pair in wins for k in pair})
    if not keys:
        return {}
    strength = dict.fromkeys(keys, 1.0)
    played: dict[tuple[str, str], float] = defaultdict(float)
    won: dict[str, float] = defaultdict(float)
    for (a, b), w in wins.items():
        played[tuple(sorted((a, b)))] += w  # type: ignore[index]
        won[a] += w
    for a, b in combinations(keys, 2):  # the prior: a little of each pairing both ways
        played[(a, b)] += 2 * prior
        won[a] += prior
        won[b] += prior
    for _ in range(iterations):
        new = {}
        for k in keys:
            denominator = sum(
                n / (strength[k] + strength[b if a == k else a])
                for (a, b), n in played.items()
                if k in (a, b)
            )
            new[k] = won[k] / denominator if denominator else strength[k]
        norm = math.exp(sum(math.log(v) for v in new.values()) / len(new))
        new = {k: v / norm for k, v in new.items()}
        if max(abs(new[k] - strength[k]) for k in keys) < 1e-9:
            return new
        strength = new
    return strength


def aggregate(
    votes: Iterable[Vote], *, method: str = "dawid_skene", gold: Mapping[Pair, str] | None = None
) -> dict[Pair, str]:
    """Winner per pair by `majority`, `dawid_skene`, or `bradley_terry` (DS-weighted)."""
    votes = list(votes)
    if method == "majority":
        return majority(votes)
    ds = dawid_skene(votes, gold=gold)
    if method == "dawid_skene":
        return ds.winners
    if method != "bradley_terry":
        raise ValueError(f"unknown aggregation method {method!r}")
    by_item: dict[int, dict[tuple[str, str], float]] = defaultdict(lambda: defaultdict(float))
    for v in votes:
        p = ds.accuracy[v.worker]
        by_item[v.item][(v.winner, v.loser)] += max(0.0, math.log(p / (1 - p)))
    winners = {}
    for item, wins in by_item.items():
        strength = bradley_terry(wins)
        for a, b in combinations(sorted(strength), 2):
            if strength[a] != strength[b]:
                winners[(item, a, b)] = a if strength[a] > strength[b] else b
    return winners


def krippendorff_alpha(units: Mapping[object, list[float]], *, level: str) -> float | None:
    """Krippendorff's alpha over units (each a list of the values raters gave it).

    `level` is "nominal" (which response won a pair) or "ordinal" (ranks, Likert scores).
    None when there is nothing to compare (no unit with two values).
    """

    usable = [values for values in units.values() if len(values) >= 2]
    if not usable:
        return None
    domain = sorted({v for values in usable for v in values})
    if len(domain) < 2:
        return 1.0  # everyone gave the same value everywhere: perfect agreement
    index = {v: i for i, v in enumerate(domain)}
    counts = np.zeros((len(usable), len(domain)))
    for row, values in enumerate(usable):
        for v in values:
            counts[row, index[v]] += 1
    return float(krippendorff.alpha(value_counts=counts, level_of_measurement=level))
