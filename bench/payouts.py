"""Payout throughput: LNURL-withdraw callbacks against gunicorn, payments by real Celery
workers over Redis, the fake node, PostgreSQL (a scratch database).

For 1, 4 and 16 concurrent wallets it prints callbacks/s, callback→job-started latency
(p50/p99: the callback's claim of the k1 to the job's claim of the send, both stamped in
the database), payouts/s end to end (first callback to last payment recorded) and checks
that nothing was paid twice and the ledger is sound.

    .venv/bin/python bench/payouts.py [--wallets 1 4 16] [--per-wallet 50]
"""

import argparse
import asyncio
import os
import statistics
import subprocess
import sys
import time
import urllib.parse
import urllib.request
from pathlib import Path

from http_client import Client

ROOT = Path(__file__).resolve().parent.parent
ADMIN_URL = os.environ.get(
    "BENCH_ADMIN_DATABASE_URL", "postgres://postgres@127.0.0.1:5432/postgres"
)
DB_NAME = "bench_payouts"
DATABASE_URL = ADMIN_URL.rsplit("/", 1)[0] + "/" + DB_NAME
BROKER_URL = os.environ.get("BENCH_BROKER_URL", "redis://127.0.0.1:6379/14")
PORT = 8766
TARGETS = "targets: callback→job p50 < 20 ms, ≥ 200 payouts/s at 16 wallets, 0 double payments"


def setup_django() -> dict[str, str]:
    import psycopg

    with psycopg.connect(ADMIN_URL, autocommit=True) as conn:
        conn.execute(f"DROP DATABASE IF EXISTS {DB_NAME} WITH (FORCE)")
        conn.execute(f"CREATE DATABASE {DB_NAME}")
    env = {
        "DATABASE_URL": DATABASE_URL,
        "CELERY_BROKER_URL": BROKER_URL,
        "DJANGO_SETTINGS_MODULE": "marketplace.settings",
        "SECRET_KEY": "bench",
        "LOG_LEVEL": "WARNING",
        "LIGHTNING_BACKEND": "fake",
        "LIGHTNING_NETWORK": "regtest",
        "PUBLIC_BASE_URL": f"http://127.0.0.1:{PORT}",
        # Every wallet calls back from this one address: no rate limits here.
        "RATE_LIMIT_LOGIN": "",
        "RATE_LIMIT_LNURL": "",
    }
    os.environ.update(env)
    sys.path.insert(0, str(ROOT))
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)
    return env


def start(env: dict[str, str], args: argparse.Namespace) -> list[subprocess.Popen]:
    from marketplace.celery import app

    with app.connection_for_write() as conn:
        conn.default_channel.queue_purge("payouts")

    def spawn(command: str) -> subprocess.Popen:
        return subprocess.Popen(
            [sys.executable, "-m", *command.split()],
            cwd=ROOT,
            env={**os.environ, **env},
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )

    web = spawn(
        f"gunicorn marketplace.wsgi -b 127.0.0.1:{PORT} -w {args.web_processes} --log-level warning"
    )
    jobs = [
        spawn(
            f"celery -A marketplace worker -Q payouts -n payouts{i}@%h --pool {args.celery_pool}"
            f" -c {args.celery_concurrency} --without-gossip --without-mingle --without-heartbeat"
            " -l WARNING"
        )
        for i in range(args.celery_workers)
    ]
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{PORT}/api/v1/lightning/info/", timeout=2)
            break
        except OSError:
            time.sleep(0.2)
    time.sleep(2)  # let the Celery worker connect
    return [web, *jobs]


def stop(processes: list[subprocess.Popen]) -> None:
    import signal

    for process in processes:
        try:
            os.killpg(process.pid, signal.SIGTERM)
            process.wait(timeout=15)
        except (ProcessLookupError, subprocess.TimeoutExpired):
            os.killpg(process.pid, signal.SIGKILL)


def run(wallets: int, per_wallet: int) -> dict[str, float]:
    from coincurve import PrivateKey
    from django.db import connection

    from payouts import ledger, wallet
    from payouts.models import FakeNodePayment, Withdrawal
    from payouts.services import withdrawals as withdrawal_services
    from payouts.services.lnurl_auth import worker_for_key

    amount = 10_000
    plans = []  # per wallet: [(k1, invoice)]
    for _ in range(wallets):
        key = PrivateKey()
        worker = worker_for_key(key.public_key.format().hex())
        ledger.transfer(
            kind="deposit",
            reference=f"bench:{worker.id}",
            legs=[
                (ledger.LIGHTNING_IN, -amount * per_wallet),
                (ledger.worker_available(worker.id), amount * per_wallet),
            ],
        )
        plan = []
        for _ in range(per_wallet):
            withdrawal = withdrawal_services.create_withdrawal(worker=worker, amount_msat=amount)
            pr, _ = wallet.make_invoice(key, amount_msat=amount, network="regtest")
            plan.append((withdrawal.id, withdrawal.k1, pr))
        plans.append(plan)
    ids = [wid for plan in plans for wid, _, _ in plan]
    payments_before = FakeNodePayment.objects.count()
    refused = []

    async def wallet(plan: list) -> None:
        """One wallet's callbacks, one after another (a new connection each, as wallets do)."""
        client = Client(PORT)
        for _, k1, pr in plan:
            query = urllib.parse.urlencode({"k1": k1, "pr": pr})
            _, body = await client.request("GET", f"/api/v1/lnurl/withdraw/callback/?{query}")
            if b'"OK"' not in body:
                refused.append(k1)

    async def wallets_at_once() -> None:
        await asyncio.wait_for(asyncio.gather(*(wallet(plan) for plan in plans)), timeout=300)

    started = time.perf_counter()
    asyncio.run(wallets_at_once())
    callbacks_s = len(ids) / (time.perf_counter() - started)

    deadline = time.monotonic() + 180
    while time.monotonic() < deadline:
        if not Withdrawal.objects.filter(id__in=ids).exclude(status="paid").exists():
            break
        time.sleep(0.2)
    rows = list(
        Withdrawal.objects.filter(id__in=ids).values_list(
            "status", "invoice_accepted_at", "send_started_at", "finished_at"
        )
    )
    paid = [row for row in rows if row[0] == "paid"]
    latencies = sorted((sent - accepted).total_seconds() * 1000 for _, accepted, sent, _ in paid)
    span = (max(r[3] for r in paid) - min(r[1] for r in paid)).total_seconds() if paid else 0
    payments = FakeNodePayment.objects.count() - payments_before
    problems = ledger.problems()
    connection.close()
    return {
        "wallets": wallets,
        "withdrawals": len(ids),
        "refused": len(refused),
        "paid": len(paid),
        "node_payments": payments,
        "double_payments": max(payments - len(paid), 0),
        "callbacks_s": callbacks_s,
        "job_p50_ms": statistics.median(latencies) if latencies else float("nan"),
        "job_p99_ms": latencies[min(len(latencies) - 1, int(len(latencies) * 0.99))]
        if latencies
        else float("nan"),
        "payouts_s": len(paid) / span if span else float("nan"),
        "ledger_ok": not problems,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--wallets", type=int, nargs="+", default=[1, 4, 16])
    parser.add_argument("--per-wallet", type=int, default=0, help="default: 800 / wallets")
    parser.add_argument("--web-processes", type=int, default=3, help="gunicorn (sync) processes")
    parser.add_argument(
        "--celery-pool",
        default="threads",
        help="the payouts worker's pool, as deployed (README): threads; or prefork",
    )
    parser.add_argument("--celery-concurrency", type=int, default=4, help="threads per worker")
    parser.add_argument(
        "--celery-workers", type=int, default=2, help="payouts worker processes (one per core)"
    )
    args = parser.parse_args()
    env = setup_django()
    processes = start(env, args)
    results = []
    try:
        for wallets in args.wallets:
            per_wallet = args.per_wallet or max(800 // wallets, 10)
            results.append(run(wallets, per_wallet))
    finally:
        stop(processes)
    print(
        f"\nPayouts bench (gunicorn -w {args.web_processes}, {args.celery_workers}x celery "
        f"--pool {args.celery_pool} -c {args.celery_concurrency}, fake node, "
        f"PostgreSQL, Redis) — {TARGETS}"
    )
    header = (
        "wallets",
        "withdrawals",
        "callbacks/s",
        "job p50 ms",
        "job p99 ms",
        "payouts/s",
        "paid",
        "node payments",
        "double",
        "ledger",
    )
    print(" | ".join(header))
    for r in results:
        print(
            " | ".join(
                [
                    f"{r['wallets']}",
                    f"{r['withdrawals']}",
                    f"{r['callbacks_s']:.0f}",
                    f"{r['job_p50_ms']:.1f}",
                    f"{r['job_p99_ms']:.1f}",
                    f"{r['payouts_s']:.0f}",
                    f"{r['paid']}",
                    f"{r['node_payments']}",
                    f"{r['double_payments']}",
                    "ok" if r["ledger_ok"] else "BREACH",
                ]
            )
        )
    if any(r["double_payments"] or not r["ledger_ok"] or r["refused"] for r in results):
        sys.exit(1)


if __name__ == "__main__":
    main()
