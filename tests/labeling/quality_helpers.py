"""Items with and without gold, and a worker answering through the services: shared by the
quality tests (gold, review, trust, entry tests, the simulated crowd)."""

from collections.abc import Callable

from labeling.models import Assignment, Rating, Worker
from labeling.services import assignments as assignment_services
from labeling.services import ratings as rating_services

PAIR = [{"id": "a", "text": "right"}, {"id": "b", "text": "wrong"}]


def gold_items(n: int, start: int = 0) -> list[dict]:
    """Items whose right answer is known: "a" before "b"."""
    return [
        {"prompt": f"check {start + i}", "responses": PAIR, "gold": ["a", "b"]} for i in range(n)
    ]


def plain_items(n: int, start: int = 0) -> list[dict]:
    return [{"prompt": f"plain {start + i}", "responses": PAIR} for i in range(n)]


def answer(worker: Worker, pick: Callable[[Assignment], str]) -> Rating | None:
    """Gets the worker's next task and answers it; pick(task) returns the best key."""
    assignment = assignment_services.next_assignment_for(worker=worker)
    if assignment is None:
        return None
    best = pick(assignment)
    ranking = [best] + [k for k in assignment.order if k != best]
    return rating_services.submit_rating(
        worker=worker, assignment_id=assignment.id, ranking=ranking
    )
