"""Aggregation at scale on a simulated crowd: accuracy, spammer detection, wall time.

200 workers (some spammers: random or always-left), 20,000 pairwise ratings over items
whose right answer is known; 10% of the ratings are on gold items (10 workers each).
Prints, per method, the accuracy of the aggregated labels against the truth and the
time it took, and the precision/recall of flagging spammers by their estimated accuracy.

    .venv/bin/python bench/quality.py [--workers 200] [--ratings 20000] [--spammers 0.2]

`--service` runs the whole service path instead (bench/quality_service.py): a crowd with
adversaries on the default settings, then static against dynamic overlap; `--postgres` on a
scratch PostgreSQL database, `--broker redis://…` with a real Celery worker.

    .venv/bin/python bench/quality.py --service [--postgres] [--broker redis://127.0.0.1:6379/1]

`--details` also prints one line per key of the adversarial crowd: its kind and skill, where
it stands, its checks and its ratings by status.
"""

import argparse
import random
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from labeling.quality.aggregation import Vote, aggregate, dawid_skene


def simulate(args: argparse.Namespace) -> tuple[list[Vote], dict, set[int], int]:
    rng = random.Random(args.seed)
    spammers = set(rng.sample(range(args.workers), int(args.spammers * args.workers)))
    skill = {w: rng.uniform(0.65, 0.95) for w in range(args.workers)}
    gold_ratings = int(0.1 * args.ratings)
    items = (args.ratings - gold_ratings) // args.overlap
    gold_items = max(1, gold_ratings // 10)
    votes = []

    def vote(worker: int, item: int) -> Vote:
        shown = rng.sample(["a", "b"], 2)
        if worker in spammers:
            winner = shown[0] if worker % 2 else rng.choice(shown)
        else:
            winner = "a" if rng.random() < skill[worker] else "b"
        return Vote(worker, item, winner, "b" if winner == "a" else "a")

    for item in range(items):
        for worker in rng.sample(range(args.workers), args.overlap):
            votes.append(vote(worker, item))
    for item in range(items, items + gold_items):
        votes.extend(vote(worker, item) for worker in rng.sample(range(args.workers), 10))
    gold = {(item, "a", "b"): "a" for item in range(items, items + gold_items)}
    return votes, gold, spammers, items


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workers", type=int, default=200)
    parser.add_argument("--ratings", type=int, default=20_000)
    parser.add_argument("--overlap", type=int, default=3)
    parser.add_argument("--spammers", type=float, default=0.2, help="share of workers")
    parser.add_argument(
        "--threshold",
        type=float,
        default=0.6,
        help="estimated accuracy below which a worker is called a spammer",
    )
    parser.add_argument("--seed", type=int, default=1)
    service = parser.add_argument_group("--service mode")
    service.add_argument("--service", action="store_true", help="run the whole service path")
    service.add_argument("--postgres", action="store_true")
    service.add_argument("--broker", default="", help="Redis URL: jobs go to a Celery worker")
    service.add_argument("--honest", type=int, default=30)
    service.add_argument("--first-card", type=int, default=3)
    service.add_argument("--random", type=int, default=3)
    service.add_argument("--rotators", type=int, default=2)
    service.add_argument("--copiers", type=int, default=1)
    # A new labeler's probation needs its checks: one right two times in three is told from
    # a random clicker after about 65 (ln 30 over 0.05 a check), which a batch of 300 items
    # and 40 gold, shared by 30 labelers, does not have (their ratings stay held, to be paid
    # when a later batch decides). 900 items and 120 gold keep the same gold share.
    service.add_argument("--items", type=int, default=900)
    service.add_argument("--gold", type=int, default=120)
    service.add_argument("--details", action="store_true", help="print one line per key")
    service.add_argument("--scenario", choices=["adversarial", "dynamic", "both"], default="both")
    args = parser.parse_args()
    if args.service:
        import quality_service

        quality_service.main(args)
        return

    votes, gold, spammers, items = simulate(args)
    print(
        f"{len(votes)} votes ({items} items, overlap {args.overlap}, "
        f"{len(gold)} gold items), {args.workers} workers, "
        f"{len(spammers)} spammers"
    )
    baseline = None
    for method in ("majority", "dawid_skene", "bradley_terry"):
        start = time.perf_counter()
        winners = aggregate(votes, method=method, gold=gold)
        elapsed = time.perf_counter() - start
        accuracy = sum(winners.get((i, "a", "b")) == "a" for i in range(items)) / items
        baseline = baseline or accuracy
        print(
            f"{method:>14}: accuracy {accuracy:.3f} ({accuracy / baseline:.3f}x majority), "
            f"{elapsed * 1000:.0f} ms"
        )

    estimated = dawid_skene(votes, gold=gold).accuracy
    flagged = {w for w, p in estimated.items() if p < args.threshold}
    caught = len(flagged & spammers)
    precision = caught / len(flagged) if flagged else 1.0
    recall = caught / len(spammers) if spammers else 1.0
    print(
        f"spammers flagged below {args.threshold}: precision {precision:.3f}, "
        f"recall {recall:.3f} ({caught}/{len(spammers)} caught, {len(flagged)} flagged)"
    )


if __name__ == "__main__":
    main()
