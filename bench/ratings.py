"""Labeler loop throughput: N simulated workers doing GET next + POST submit.

Starts the site under gunicorn on PostgreSQL (a scratch database), gives every
simulated worker its own API token, runs the loop for a bounded time and prints
ratings/s and p50/p99 latency of each call. A /healthz loop on the same server,
in the same run, is the baseline: it shows what the server does with no work.

    .venv/bin/python bench/ratings.py [--workers 10 100] [--seconds 20]
"""

import argparse
import asyncio
import json
import os
import subprocess
import sys
import time
from pathlib import Path

from bench_batch import post_pairwise_batch
from http_client import Client, pct

ROOT = Path(__file__).resolve().parent.parent
ADMIN_URL = os.environ.get(
    "BENCH_ADMIN_DATABASE_URL", "postgres://postgres@127.0.0.1:5432/postgres"
)
DB_NAME = os.environ.get("BENCH_RATINGS_DB", "bench_ratings")
DATABASE_URL = ADMIN_URL.rsplit("/", 1)[0] + "/" + DB_NAME
PORT = int(os.environ.get("BENCH_RATINGS_PORT", "8765"))
REFERENCE_LOOPS_PER_S = 16.0  # the best-known open labeling tool on this loop, same machine


def prepare(workers: int, items: int) -> list[str]:
    """A fresh database with one funded batch and `workers` workers; returns their tokens."""
    import psycopg

    with psycopg.connect(ADMIN_URL, autocommit=True) as conn:
        conn.execute(f"DROP DATABASE IF EXISTS {DB_NAME} WITH (FORCE)")
        conn.execute(f"CREATE DATABASE {DB_NAME}")
    os.environ.update(
        DATABASE_URL=DATABASE_URL,
        DJANGO_SETTINGS_MODULE="marketplace.settings",
        SECRET_KEY="bench",
        LOG_LEVEL="WARNING",
    )
    sys.path.insert(0, str(ROOT))
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)
    from coincurve import PrivateKey
    from rest_framework.authtoken.models import Token

    from labeling.services.review import vouch_for
    from payouts.services.lnurl_auth import worker_for_key

    post_pairwise_batch(name="bench", items=items)
    tokens = []
    for _ in range(workers):
        worker = worker_for_key(PrivateKey().public_key.format().hex())
        vouch_for(worker=worker)  # established labelers: paid at once, as the loop measures
        tokens.append(Token.objects.create(user=worker.user).key)
    from django.db import connection, connections

    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")  # as autovacuum would have, for realistic query plans
    connections.close_all()
    return tokens


async def labeler(
    token: str, deadline: float, stats: dict[str, list[float]], one_trip: bool = False
) -> None:
    """GET next + POST submit in a loop; with `one_trip`, as the task page does it: the
    next task comes back with the submit (?next=1), so a rating costs one request."""
    client = Client(PORT, token)
    task = None
    while time.perf_counter() < deadline:
        if task is None:
            start = time.perf_counter()
            try:
                status, data = await client.request("GET", "/api/v1/tasks/next/")
            except (OSError, ConnectionError, asyncio.IncompleteReadError):
                stats["errors"].append(1)
                client = Client(PORT, token)
                continue
            stats["next"].append(time.perf_counter() - start)
            if status == 204:
                stats["empty"].append(1)
                await asyncio.sleep(0.05)
                continue
            if status != 200:
                stats["errors"].append(status)
                continue
            task = json.loads(data)
        # The same answer id whatever the card order: an opinion, not always the top card
        # (which closes a labeler).
        ids = sorted(r["id"] for r in task["task"]["responses"])
        answer = json.dumps({"ranking": ids}).encode()
        path = f"/api/v1/assignments/{task['assignment_id']}/submit/"
        start = time.perf_counter()
        try:
            status, data = await client.request(
                "POST", path + ("?next=1" if one_trip else ""), answer
            )
        except (OSError, ConnectionError, asyncio.IncompleteReadError):
            stats["errors"].append(1)
            client, task = Client(PORT, token), None
            continue
        stats["submit"].append(time.perf_counter() - start)
        if status != 201:
            stats["errors"].append(status)
        task = json.loads(data).get("next") if one_trip and status == 201 else None


async def pinger(deadline: float, stats: dict[str, list[float]]) -> None:
    client = Client(PORT)
    while time.perf_counter() < deadline:
        start = time.perf_counter()
        status, _ = await client.request("GET", "/healthz")
        stats["healthz"].append(time.perf_counter() - start)
        if status != 200:
            stats["errors"].append(status)


def run_load(coros_for, seconds: float) -> tuple[dict[str, list[float]], float]:
    stats: dict[str, list[float]] = {
        k: [] for k in ("next", "submit", "healthz", "errors", "empty")
    }

    async def main() -> float:
        deadline = time.perf_counter() + seconds
        start = time.perf_counter()
        await asyncio.gather(*coros_for(deadline, stats))
        return time.perf_counter() - start

    return stats, asyncio.run(main())


def start_server(processes: int, threads: int) -> subprocess.Popen:
    env = {
        **os.environ,
        "DATABASE_URL": DATABASE_URL,
        "SECRET_KEY": "bench",
        "LOG_LEVEL": "WARNING",
        "DB_CONN_MAX_AGE": "600",
        # All simulated workers share this one address: no rate limits here.
        "RATE_LIMIT_LOGIN": "",
        "RATE_LIMIT_LNURL": "",
    }
    server = subprocess.Popen(
        [
            str(ROOT / ".venv/bin/gunicorn"),
            "marketplace.wsgi",
            "-b",
            f"127.0.0.1:{PORT}",
            "-w",
            str(processes),
            "-k",
            "gthread",
            "--threads",
            str(threads),
            "--keep-alive",
            "30",
            "--log-level",
            "warning",
        ],
        cwd=ROOT,
        env=env,
    )
    for _ in range(100):
        try:
            asyncio.run(Client(PORT).request("GET", "/healthz"))
            return server
        except OSError:
            time.sleep(0.1)
    server.kill()
    raise SystemExit("gunicorn did not start")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workers", type=int, nargs="+", default=[10, 100])
    parser.add_argument("--seconds", type=float, default=20)
    parser.add_argument("--processes", type=int, default=2, help="gunicorn processes")
    parser.add_argument("--threads", type=int, default=4, help="threads per process")
    parser.add_argument(
        "--one-trip",
        type=int,
        nargs="*",
        default=[10],
        help="also run the task page's loop (submit?next=1) at these N",
    )
    args = parser.parse_args()
    tokens = prepare(max(args.workers), items=20_000)
    server = start_server(args.processes, args.threads)
    try:
        base, base_s = run_load(lambda d, s: [pinger(d, s) for _ in range(10)], 5)
        base_rps = len(base["healthz"]) / base_s
        print(
            f"baseline GET /healthz, 10 clients: {base_rps:.0f} req/s, "
            f"p50 {pct(base['healthz'], 0.5):.1f} ms, p99 {pct(base['healthz'], 0.99):.1f} ms"
        )
        loops = [(n, False) for n in args.workers] + [(n, True) for n in args.one_trip]
        for n, one_trip in loops:
            stats, elapsed = run_load(
                lambda d, s, n=n, o=one_trip: [labeler(t, d, s, o) for t in tokens[:n]],
                args.seconds,
            )
            rate = len(stats["submit"]) / elapsed
            ratio = rate / REFERENCE_LOOPS_PER_S
            share = 2 * rate / base_rps
            nxt, sub = stats["next"], stats["submit"]
            loop = "submit?next=1" if one_trip else "next+submit"
            print(
                f"{loop} N={n:>3}: {rate:6.1f} ratings/s ({ratio:.1f}x the "
                f"{REFERENCE_LOOPS_PER_S:.0f}/s reference; {share:.2f} of the /healthz rate) | "
                f"next p50 {pct(nxt, 0.5):.1f} ms p99 {pct(nxt, 0.99):.1f} ms | "
                f"submit p50 {pct(sub, 0.5):.1f} ms p99 {pct(sub, 0.99):.1f} ms | "
                f"errors {len(stats['errors'])}, empty {len(stats['empty'])}"
            )
    finally:
        server.terminate()
        server.wait(timeout=10)


if __name__ == "__main__":
    main()
