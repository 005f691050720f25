"""Trust: the share of checks a worker passed, shrunk towards a neutral prior.

Checks are gold answers (known right answers) and agreement with the aggregated
answer of peers. A Beta(3, 2) prior puts a new worker at 0.6: above a random
clicker's 0.5, below a careful worker's 0.8, and worth five checks of evidence.
"""

PRIOR_RIGHT = 3.0
PRIOR_WRONG = 2.0
# Pausing needs this many checks: on a simulated crowd (80% honest workers, random
# spammers) 8 closed more spammers and fewer honest workers than 5, 10 or 12.
MIN_EVIDENCE_TO_PAUSE = 8
# Answering faster than this (seconds from showing the task) is flagged.
MIN_SECONDS = {"pairwise": 3, "ranking": 5, "likert": 4}
STRAIGHT_LINING_WINDOW = 12  # ratings looked at
STRAIGHT_LINING_SHARE = 0.9  # share choosing the same position that gets flagged


def trust_score(*, gold_seen: int, gold_correct: int, peer_seen: int, peer_agree: int) -> float:
    right = gold_correct + peer_agree + PRIOR_RIGHT
    return right / (gold_seen + peer_seen + PRIOR_RIGHT + PRIOR_WRONG)


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


def accuracy_dropped(gold_results: list[bool], *, window: int = 8, drop: float = 0.3) -> bool:
    """Recent gold accuracy far below the worker's earlier accuracy."""
    if len(gold_results) < 2 * window:
        return False
    earlier, recent = gold_results[:-window], gold_results[-window:]
    return sum(earlier) / len(earlier) - sum(recent) / len(recent) >= drop
