"""The whole quality path on a simulated crowd: claims, submits, holds, probation, review,
aggregation and pay, through the services (as the API calls them), on the default settings.

Run by `bench/quality.py --service`. A simulated clock stands in for the labelers' time
(how long each took to answer), so the too-fast rule sees human and bot paces; everything
else is the product's own code. With `--broker` the jobs (gold reviews, the periodic
aggregation) go through Redis to a real Celery worker, as deployed.
"""

import os
import random
import signal
import statistics
import subprocess
import sys
import time
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
ADMIN_URL = os.environ.get(
    "BENCH_ADMIN_DATABASE_URL", "postgres://postgres@127.0.0.1:5432/postgres"
)
DB_NAME = os.environ.get("BENCH_QUALITY_DB", "bench_quality")
REWARD_MSAT = 1_000
SPAM_KINDS = ("first_card", "random", "rotator")


def setup_django(*, postgres: bool, broker: str) -> dict[str, str]:
    env = {
        "DJANGO_SETTINGS_MODULE": "marketplace.settings",
        "SECRET_KEY": "bench",
        "LOG_LEVEL": "WARNING",
        "LIGHTNING_BACKEND": "fake",
        "CELERY_BROKER_URL": broker,
    }
    if postgres:
        import psycopg

        with psycopg.connect(ADMIN_URL, autocommit=True) as conn:
            conn.execute(f"DROP DATABASE IF EXISTS {DB_NAME} WITH (FORCE)")
            conn.execute(f"CREATE DATABASE {DB_NAME}")
        env["DATABASE_URL"] = ADMIN_URL.rsplit("/", 1)[0] + "/" + DB_NAME
    else:
        path = Path(os.environ.get("TMPDIR", "/tmp")) / f"{DB_NAME}.sqlite3"
        path.unlink(missing_ok=True)
        env["DATABASE_URL"] = f"sqlite:///{path}"
    os.environ.update(env)
    sys.path.insert(0, str(ROOT))
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)
    return env


class Clock:
    """Simulated time: django.utils.timezone.now reads it, the crowd advances it."""

    def __init__(self) -> None:
        from django.utils import timezone

        self.now = timezone.now()
        self._real = timezone.now
        timezone.now = lambda: self.now

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)


@dataclass
class Member:
    kind: str  # honest, first_card, random, rotator, copier
    skill: float = 0.5
    pace: float = 10.0  # seconds per answer
    worker: Any = None
    client: str = ""
    answers: int = 0
    workers: list = field(default_factory=list)  # every key it used


def new_key(member: Member) -> None:
    from payouts.services.lnurl_auth import worker_for_key

    member.worker = worker_for_key("02" + random.getrandbits(256).to_bytes(32, "big").hex())
    member.workers.append(member.worker.id)
    member.answers = 0


def make_batch(*, plain: int, gold: int, overlap: int, max_overlap: int, quality: dict) -> Any:
    from labeling.services import batches, requesters
    from payouts.services import deposits

    requester, _ = requesters.create_requester(username=f"bench{random.getrandbits(40)}")

    def item(i: int, is_gold: bool) -> dict:
        responses = [
            {"id": "x", "text": f"right {i}"},
            {"id": "y", "text": f"wrong {i}"},
        ]
        random.shuffle(responses)  # the right answer is not always the same id
        return {
            "prompt": f"{'gold' if is_gold else 'plain'} {i}",
            "responses": responses,
            **({"gold": ["x", "y"]} if is_gold else {}),
        }

    items = [item(i, False) for i in range(plain)] + [item(plain + i, True) for i in range(gold)]
    cost = batches.batch_cost(
        reward_msat=REWARD_MSAT,
        overlap=overlap,
        max_overlap=max_overlap,
        items_count=len(items),
        gold_count=gold,
        gold_overlap=quality.get("gold_overlap", batches.DEFAULT_GOLD_OVERLAP),
    )
    deposits.fund_requester(requester=requester, amount_msat=cost)
    return batches.create_batch(
        requester=requester,
        name="bench",
        task_type="pairwise",
        instructions="",
        reward_msat=REWARD_MSAT,
        overlap=overlap,
        max_overlap=max_overlap,
        items=batches.validate_items(task_type="pairwise", items=items),
        quality=quality,
    )


class Jobs:
    """The periodic aggregation: in-process, or published to the broker's worker."""

    def __init__(self, broker: str) -> None:
        self.broker = broker

    def aggregate(self, batch_id: int) -> None:
        from labeling.services import review

        if not self.broker:
            review.aggregate_batch(batch_id=batch_id)
            return
        from marketplace.celery import app

        app.send_task("labeling.aggregate_batch", kwargs={"batch_id": batch_id})

    def drain(self, timeout: float = 120) -> None:
        """Waits until the worker has taken every job queued (broker mode)."""
        if not self.broker:
            return
        import redis

        from marketplace.celery import app

        queue = redis.Redis.from_url(self.broker)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            active = app.control.inspect(timeout=1.0).active() or {}
            if not queue.llen("default") and not any(active.values()):
                return
            time.sleep(0.2)


def answer_for(member: Member, assignment: Any, copies: dict) -> str:
    from labeling.models import Response

    order = assignment.order
    if member.kind == "first_card":
        return order[0]
    if member.kind in ("random", "rotator"):
        return random.choice(order)
    if member.kind == "copier":
        copied = copies.get(assignment.item_id)
        if copied is not None:
            return copied
        return random.choice(order)
    right = Response.objects.get(item_id=assignment.item_id, text__startswith="right").key
    wrong = next(key for key in order if key != right)
    return right if random.random() < member.skill else wrong


def run(
    *,
    crowd: list[Member],
    batch: Any,
    jobs: Jobs,
    clock: Clock,
    aggregate_every: int = 40,
    rotate_every: int = 15,
) -> dict[str, Any]:
    from labeling.errors import WorkerPaused
    from labeling.models import Worker
    from labeling.services import assignments, ratings

    for member in crowd:
        new_key(member)
    source = next((m for m in crowd if m.kind == "honest"), None)
    copiers = [m for m in crowd if m.kind == "copier"]
    copies: dict[int, str] = {}  # the copied worker's answer per item
    trusted_latency: list[float] = []
    submits = 0
    for _phase in range(8):  # work, then a final aggregation that may reopen slots
        idle = 0
        while idle < 3 * len(crowd) and submits < 50_000:
            member = random.choice(crowd)
            for actor in [member] + (copiers if member is source else []):
                if actor.kind == "rotator" and (
                    actor.answers >= rotate_every or actor.worker.standing == "closed"
                ):
                    new_key(actor)
                actor.worker.refresh_from_db()
                assignment = assignments.next_assignment_for(
                    worker=actor.worker, client=actor.client
                )
                if assignment is None and actor.kind == "rotator" and actor.answers:
                    new_key(actor)  # paused or closed: a fresh key costs nothing
                    assignment = assignments.next_assignment_for(
                        worker=actor.worker, client=actor.client
                    )
                if assignment is None:
                    idle += 1
                    continue
                idle = 0
                best = answer_for(actor, assignment, copies)
                clock.advance(random.uniform(0.6, 1.4) * actor.pace)
                trusted = actor.worker.standing == Worker.Standing.TRUSTED
                started = time.perf_counter()
                try:
                    rating = ratings.submit_rating(
                        worker=actor.worker,
                        assignment_id=assignment.id,
                        ranking=[best, *(k for k in assignment.order if k != best)],
                        client=actor.client,
                    )
                except WorkerPaused:
                    continue
                if trusted and rating.status == "approved":
                    trusted_latency.append(time.perf_counter() - started)
                if actor is source:
                    copies[assignment.item_id] = best
                actor.answers += 1
                submits += 1
                if submits % aggregate_every == 0:
                    jobs.aggregate(batch.id)
        jobs.drain()
        jobs.aggregate(batch.id)
        jobs.drain()
        jobs.aggregate(batch.id)  # decisions of the first may change the second's evidence
        jobs.drain()
        if assignments_left(batch) == 0:
            break
    return {"submits": submits, "trusted_latency": trusted_latency}


def assignments_left(batch: Any) -> int:
    from django.db.models import Sum

    return batch.items.filter(blocked=False).aggregate(n=Sum("slots_left"))["n"] or 0


def spend_by_kind(crowd: list[Member], batch: Any) -> dict[str, int]:
    from labeling.models import Rating

    kind_of = {w: m.kind for m in crowd for w in m.workers}
    spend: dict[str, int] = defaultdict(int)
    for worker_id, reward in Rating.objects.filter(batch=batch, status="approved").values_list(
        "worker_id", "reward_msat"
    ):
        spend[kind_of[worker_id]] += reward
    return dict(spend)


def export_accuracy(batch: Any) -> tuple[float, int]:
    from labeling.selectors import export_trl

    rows = list(export_trl(batch=batch))
    right = sum(row["chosen"].startswith("right") for row in rows)
    return (right / len(rows) if rows else 0.0), len(rows)


def plain_cost_msat(batch: Any) -> int:
    """What the plain items' votes cost: every rating not rejected (held ones are paid once
    their worker passes probation)."""
    from labeling.models import Rating

    votes = Rating.objects.filter(batch=batch, item__gold__isnull=True).exclude(status="rejected")
    return sum(votes.values_list("reward_msat", flat=True))


def adversarial(args: Any, jobs: Jobs, clock: Clock) -> None:
    crowd = [
        Member("honest", skill=random.uniform(0.65, 0.95), pace=random.uniform(6, 20))
        for _ in range(args.honest)
    ]
    crowd += [Member("first_card", pace=1.5) for _ in range(args.first_card)]
    crowd += [Member("random", pace=8) for _ in range(args.random)]
    crowd += [Member("rotator", pace=6, client=f"rotator-phone-{i}") for i in range(args.rotators)]
    crowd += [Member("copier", pace=8) for _ in range(args.copiers)]
    for i, member in enumerate(crowd):
        member.client = member.client or f"phone-{i}"
    batch = make_batch(plain=args.items, gold=args.gold, overlap=3, max_overlap=3, quality={})
    started = time.perf_counter()
    result = run(crowd=crowd, batch=batch, jobs=jobs, clock=clock)
    elapsed = time.perf_counter() - started
    spend = spend_by_kind(crowd, batch)
    total = sum(spend.values()) or 1
    spam = sum(spend.get(kind, 0) for kind in SPAM_KINDS)
    from labeling.models import Rating

    honest_ids = [w for m in crowd if m.kind == "honest" for w in m.workers]
    honest = Counter(
        Rating.objects.filter(batch=batch, worker_id__in=honest_ids).values_list(
            "status", flat=True
        )
    )
    approved_share = honest["approved"] / (sum(honest.values()) or 1)
    keys = sum(len(m.workers) for m in crowd if m.kind == "rotator")
    latency = sorted(result["trusted_latency"])
    accuracy, pairs = export_accuracy(batch)
    print(
        f"adversarial crowd ({args.honest} honest 65-95%, {args.first_card} first-card, "
        f"{args.random} random, {args.rotators} rotators ({keys} keys), {args.copiers} copier; "
        f"{args.items} items + {args.gold} gold, overlap 3, defaults): "
        f"{result['submits']} submits in {elapsed:.1f} s"
    )
    print(
        "  spend by kind (msat): "
        + ", ".join(f"{k} {spend.get(k, 0)}" for k in ("honest", *SPAM_KINDS, "copier"))
    )
    print(f"  spammers + rotators: {spam / total:.2%} of the spend (target ≤ 2%)")
    print(f"  honest ratings approved: {approved_share:.1%} ({dict(honest)}) (target ≥ 95%)")
    if latency:
        p95 = latency[min(len(latency) - 1, int(0.95 * len(latency)))]
        print(
            f"  trusted worker submit→approved: median {statistics.median(latency) * 1000:.1f} ms,"
            f" p95 {p95 * 1000:.1f} ms ({len(latency)} ratings; approved inside the submit)"
        )
    print(f"  exported preferences matching the truth: {accuracy:.1%} of {pairs}")
    from labeling.models import Worker

    if args.details:
        print_details(crowd, batch)
    for member in crowd:
        if member.kind == "copier":
            copier = Worker.objects.get(id=member.workers[-1])
            print(f"  copier: {copier.standing} ({copier.closed_reason or 'not closed'})")


def print_details(crowd: list[Member], batch: Any) -> None:
    """One line per key: its kind and skill, standing, evidence and ratings by status."""
    from labeling.models import Rating, Worker

    for member in sorted(crowd, key=lambda m: (m.kind, m.skill)):
        for worker in Worker.objects.filter(id__in=member.workers).order_by("id"):
            statuses = Counter(
                Rating.objects.filter(batch=batch, worker=worker).values_list("status", flat=True)
            )
            print(
                f"    {member.kind:>10} {member.skill:.2f} {worker.standing:>9} "
                f"gold {worker.gold_correct}/{worker.gold_seen} "
                f"peer {worker.peer_agree:.1f}/{worker.peer_seen} "
                + " ".join(f"{k} {v}" for k, v in sorted(statuses.items()))
            )


def dynamic(args: Any, jobs: Jobs, clock: Clock) -> None:
    rows = []
    for name, overlap, max_overlap, quality in (
        ("static 3", 3, 3, {}),
        ("static 5", 5, 5, {}),
        ("dynamic 3..7 @0.95", 3, 7, {"min_confidence": 0.95}),
    ):
        crowd = [Member("honest", skill=0.8, pace=10) for _ in range(args.honest)]
        for i, member in enumerate(crowd):
            member.client = f"{name}-phone-{i}"
        batch = make_batch(
            plain=args.items,
            gold=args.gold,
            overlap=overlap,
            max_overlap=max_overlap,
            quality=quality,
        )
        run(crowd=crowd, batch=batch, jobs=jobs, clock=clock)
        accuracy, pairs = export_accuracy(batch)
        waiting = batch.ratings.filter(status="pending_review").count()
        rows.append((name, accuracy, pairs, plain_cost_msat(batch), waiting))
    base = rows[0][3] or 1
    print(
        f"dynamic overlap ({args.honest} raters right 80%, {args.items} items + {args.gold} gold):"
    )
    for name, accuracy, pairs, cost, waiting in rows:
        print(
            f"  {name:>20}: {accuracy:.1%} of {pairs} exported pairs match the truth, "
            f"rating cost {cost} msat ({cost / base:.2f}x static 3), {waiting} still held"
        )


def start_worker(env: dict[str, str]) -> subprocess.Popen:
    return subprocess.Popen(
        [
            sys.executable,
            "-m",
            "celery",
            "-A",
            "marketplace",
            "worker",
            "-Q",
            "default",
            "-c",
            "2",
            "--without-gossip",
            "--without-mingle",
            "--without-heartbeat",
            "-l",
            "WARNING",
        ],
        cwd=ROOT,
        env={**os.environ, **env},
        start_new_session=True,
    )


def stop_worker(process: subprocess.Popen) -> None:
    os.killpg(process.pid, signal.SIGTERM)
    try:
        process.wait(timeout=20)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=10)


def main(args: Any) -> None:
    random.seed(args.seed)
    env = setup_django(postgres=args.postgres or bool(args.broker), broker=args.broker)
    worker = start_worker(env) if args.broker else None
    if args.broker:
        from marketplace.celery import app

        with app.connection_for_write() as conn:
            conn.default_channel.queue_purge("default")
    print(
        f"service path on {'PostgreSQL' if 'postgres' in env['DATABASE_URL'] else 'SQLite'}, "
        + (f"jobs through {args.broker} to a Celery worker" if args.broker else "jobs in-process")
    )
    clock = Clock()
    jobs = Jobs(args.broker)
    try:
        if args.scenario in ("adversarial", "both"):
            adversarial(args, jobs, clock)
        if args.scenario in ("dynamic", "both"):
            dynamic(args, jobs, clock)
    finally:
        if worker is not None:
            stop_worker(worker)
