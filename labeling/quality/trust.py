"""Trust: the share of checks a worker passed, shrunk towards a neutral prior.

Checks are gold answers (known right answers) and agreement with the aggregated
answer of peers. A Beta(3, 2) prior puts a new worker at 0.6: above a random
clicker's 0.5, below a careful worker's 0.8, and worth five checks of evidence.

Pure computation: the models import this module, so it imports none of them.
"""

import math
from collections import defaultdict
from dataclasses import dataclass
from itertools import combinations
from typing import TYPE_CHECKING

from .aggregation import Vote, vote_log_odds

if TYPE_CHECKING:
    from ..models import Batch, Worker

PRIOR_RIGHT = 3.0
PRIOR_WRONG = 2.0
# Pausing needs this many checks: on a simulated crowd (80% honest workers, random
# spammers) 8 closed more spammers and fewer honest workers than 5, 10 or 12.
MIN_EVIDENCE_TO_PAUSE = 8
# Answering faster than this (seconds from showing the task) is flagged.
MIN_SECONDS = {"pairwise": 3, "ranking": 5, "likert": 4}
# Straight-lining closes a worker everywhere, so it must be rare by chance even over a long
# career of shuffled cards: 20 in a row at one place happens once in 500,000 windows.
STRAIGHT_LINING_WINDOW = 20  # ratings looked at
STRAIGHT_LINING_SHARE = 1.0  # share choosing the same position that gets flagged
# Position bias: over this many ratings, the most chosen place on screen stands this
# many standard deviations above what shuffled cards give an honest worker.
POSITION_BIAS_WINDOW = 50
POSITION_BIAS_Z = 5.0
# Too fast as a habit: this many of the latest TOO_FAST_WINDOW answers.
TOO_FAST_WINDOW = 10
TOO_FAST_CLOSE = 6
# Flags that close a worker everywhere at once (not an opinion, whatever the answers say).
CLOSING_FLAGS = ("straight_lining", "position_bias", "too_fast")
RECENT_WINDOW = max(STRAIGHT_LINING_WINDOW, POSITION_BIAS_WINDOW, TOO_FAST_WINDOW)

# Probation: a sequential test of "random clicker" (right half the time) against "careful
# labeler" (right 68% of the time) over the worker's checks (gold answers, and its votes
# weighed against the other voters of the same pairs, see peer_evidence). It stops when one
# is PROBATION_ODDS times likelier than the other, and never passes anyone with fewer than
# PROBATION_MIN_GOLD gold answers. A random clicker passes at most once in PROBATION_ODDS + 1
# people (keys behind one client are judged as one).
PROBATION_RANDOM = 0.5
PROBATION_CAREFUL = 0.68
# What one check right or wrong adds to the test's log likelihood ratio.
RIGHT_LOG_RATIO = math.log(PROBATION_CAREFUL / PROBATION_RANDOM)
WRONG_LOG_RATIO = math.log((1 - PROBATION_CAREFUL) / (1 - PROBATION_RANDOM))
PROBATION_ODDS = 30.0
PROBATION_MIN_GOLD = 3
# A worker on probation may have this many non-gold ratings held; then it is served gold
# items only, until the test decides.
PROBATION_HELD_CAP = 20
# Gold slots are few: a trusted worker is served this many gold items per batch, the rest
# go to workers on probation, whose held pay waits on them.
TRUSTED_GOLD_PER_BATCH = 5


def trust_score(*, gold_seen: int, gold_correct: int, peer_seen: int, peer_agree: int) -> float:
    right = gold_correct + peer_agree + PRIOR_RIGHT
    return right / (gold_seen + peer_seen + PRIOR_RIGHT + PRIOR_WRONG)


def vote_accuracy(*, gold_seen: int, gold_correct: int, peer_seen: int, peer_agree: float) -> float:
    """How often a worker's vote is right, as dynamic overlap weighs it: from gold answers
    only, with a prior worth three answers, half of them right (a trusted worker answers only
    a few gold items per batch, and five of five right is not yet 86%). Agreement with the
    crowd is left out here: it is an estimate that runs high, and an overrated voter stops an
    item before it is sure."""
    return (gold_correct + 1.5) / (gold_seen + 3)


def matches_gold(*, order: list[str], gold: list[str]) -> bool:
    """An answer passes a gold check if it orders most response pairs as the gold does.

    For a pair that means the same winner; a ranking may swap a close pair and pass.
    """
    rank = {key: i for i, key in enumerate(order)}
    pairs = [(a, b) for i, a in enumerate(gold) for b in gold[i + 1 :]]
    agree = sum(rank[a] < rank[b] for a, b in pairs)
    return agree * 2 > len(pairs)


def straight_lining(positions: list[int]) -> bool:
    """Always choosing the same place on screen, whatever the answers say."""
    if len(positions) < STRAIGHT_LINING_WINDOW:
        return False
    recent = positions[-STRAIGHT_LINING_WINDOW:]
    most = max(recent.count(p) for p in set(recent))
    return most >= STRAIGHT_LINING_SHARE * len(recent)


def accuracy_dropped(gold_results: list[bool], *, window: int = 10, z: float = 3.0) -> bool:
    """Recent gold accuracy far below the worker's earlier accuracy: a one-sided test of
    two shares, so the ups and downs of an honest worker's luck do not hold its pay."""
    earlier, recent = gold_results[:-window], gold_results[-window:]
    if len(recent) < window or len(earlier) < window:
        return False
    before, now = sum(earlier) / len(earlier), sum(recent) / len(recent)
    pooled = sum(gold_results) / len(gold_results)
    spread = math.sqrt(pooled * (1 - pooled) * (1 / len(earlier) + 1 / len(recent)))
    return spread > 0 and (before - now) / spread >= z


def pause_applies(worker: "Worker") -> bool:
    """Trust pauses a trusted worker with enough checks. A worker on probation is judged by
    its probation test alone: a pause on a handful of checks would reject the held work of
    an honest labeler who started unlucky."""
    return worker.standing == "trusted" and worker.evidence >= MIN_EVIDENCE_TO_PAUSE


def is_paused(*, worker: "Worker", batch: "Batch") -> bool:
    """Trust too low for the batch, decided from the worker row alone (no query).

    The task claim applies the same rule in SQL (labeling/sql.py)."""
    return pause_applies(worker) and worker.trust < batch.pause_below_trust


def auto_approves(*, batch: "Batch", worker: "Worker", flags: list[str]) -> bool:
    """An auto-review batch approves a trusted worker's unflagged rating without waiting;
    a worker on probation waits until its checks decide."""
    return (
        batch.review_mode == "auto"
        and not flags
        and worker.standing == "trusted"
        and worker.trust >= batch.auto_approve_trust
    )


def probation_verdict(
    *, gold_seen: int, gold_correct: int, peer_seen: int, peer_agree: float
) -> bool | None:
    """True: passed, False: failed, None: not enough evidence yet (see PROBATION_*)."""
    right = gold_correct + peer_agree
    wrong = gold_seen + peer_seen - right
    log_ratio = right * RIGHT_LOG_RATIO + wrong * WRONG_LOG_RATIO
    bound = math.log(PROBATION_ODDS)
    if log_ratio <= -bound:
        return False
    if log_ratio >= bound and gold_seen >= PROBATION_MIN_GOLD:
        return True
    return None


@dataclass(frozen=True)
class Answer:
    worker: int
    item: int
    answer: str  # the whole answer, comparable between workers
    wrong: bool  # against the gold answer or the aggregated one
    at: float  # when it was given (seconds)


# A copier: the same answer as one other worker on each of at least COPY_MIN_SHARED items
# it answered after that worker, the other's mistakes included (COPY_MIN_ERRORS of them: two
# careful workers rarely err together), and after it on most items they share (two honest
# workers who move through a batch together each come second about half the time). Items it
# answered first are left out of the comparison: it had nothing to copy there.
COPY_MIN_SHARED = 10
COPY_MIN_ERRORS = 2
COPY_AFTER_SHARE = 0.75


def copiers(answers: list[Answer]) -> dict[int, int]:
    """Copier → the worker it copied, from one batch's answers."""
    by_item: dict[int, list[Answer]] = defaultdict(list)
    for answer in answers:
        by_item[answer.item].append(answer)
    after: dict[tuple[int, int], list[tuple[Answer, Answer]]] = defaultdict(list)
    shared: dict[frozenset, int] = defaultdict(int)
    for item_answers in by_item.values():
        for first, second in combinations(sorted(item_answers, key=lambda a: a.at), 2):
            shared[frozenset((first.worker, second.worker))] += 1
            if second.at > first.at:
                after[(first.worker, second.worker)].append((first, second))
    found: dict[int, tuple[int, int]] = {}  # copier → (source, items copied)
    for (source, copier), pairs in after.items():
        if len(pairs) < COPY_MIN_SHARED or any(a.answer != b.answer for a, b in pairs):
            continue
        if len(pairs) < COPY_AFTER_SHARE * shared[frozenset((source, copier))]:
            continue
        if sum(a.wrong and b.wrong for a, b in pairs) < COPY_MIN_ERRORS:
            continue
        if copier not in found or found[copier][1] < len(pairs):
            found[copier] = (source, len(pairs))
    return {copier: source for copier, (source, _) in found.items()}


def position_bias(positions: list[int], *, choices: int) -> bool:
    """The same place on screen chosen far more often than shuffled cards allow."""
    recent = positions[-POSITION_BIAS_WINDOW:]
    if len(recent) < POSITION_BIAS_WINDOW or choices < 2:
        return False
    p = 1 / choices
    most = max(recent.count(pos) for pos in set(recent))
    spread = math.sqrt(len(recent) * p * (1 - p))
    return (most - len(recent) * p) / spread >= POSITION_BIAS_Z


def too_fast_habit(too_fast: list[bool]) -> bool:
    return sum(too_fast[-TOO_FAST_WINDOW:]) >= TOO_FAST_CLOSE


def closing_flags(*, positions: list[int], too_fast: list[bool], choices: int) -> list[str]:
    """Flags that close a worker everywhere (oldest first in both lists)."""
    flags = []
    if straight_lining(positions):
        flags.append("straight_lining")
    if position_bias(positions, choices=choices):
        flags.append("position_bias")
    if too_fast_habit(too_fast):
        flags.append("too_fast")
    return flags


def peer_evidence(
    votes: list[Vote], *, accuracy: dict[int, float], skip: set
) -> tuple[dict[int, int], dict[int, float]]:
    """Per worker: its non-gold votes, and how many of them count as right for probation.

    Each vote is weighed against the other votes on its pair alone (leave-one-out, each
    voter weighted by its Dawid-Skene accuracy): a vote always agrees with an answer it
    helped to make, so counting agreement with the full estimate lets a random clicker
    break ties in its own favour. The vote's likelihood ratio of careful (PROBATION_CAREFUL)
    against random is the chance a careful worker answers as it did, given what the others
    make likely, over one half; a pair the others leave open says nothing either way. The
    sum is returned as the number right that gives the probation test the same ratio.
    """
    log_odds: dict = defaultdict(float)
    weight = {vote: vote_log_odds(vote, accuracy=accuracy) for vote in votes}
    for vote, says in weight.items():
        log_odds[vote.pair] += says
    seen: dict[int, int] = defaultdict(int)
    ratio: dict[int, float] = defaultdict(float)
    for vote in votes:
        if vote.pair in skip:  # gold answers count through gold_seen already
            continue
        others = log_odds[vote.pair] - weight[vote]
        if vote.winner != vote.pair[1]:
            others = -others
        q = 1 / (1 + math.exp(-others))  # P(the vote's winner is right | the others)
        careful = q * PROBATION_CAREFUL + (1 - q) * (1 - PROBATION_CAREFUL)
        seen[vote.worker] += 1
        ratio[vote.worker] += math.log(careful / PROBATION_RANDOM)
    return seen, {
        worker: (ratio[worker] - n * WRONG_LOG_RATIO) / (RIGHT_LOG_RATIO - WRONG_LOG_RATIO)
        for worker, n in seen.items()
    }
