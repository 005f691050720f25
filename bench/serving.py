"""Gateway overhead: a chat call through the gateway (L402 check, hold, engine round trip,
the charge's ledger transfer) against the same call sent to the engine directly.

Starts a trivial engine process (the echo engine: no model work, so what is measured is the
gateway) and the site under gunicorn on PostgreSQL (a scratch database), then alternates
direct and gated rounds at 1 and 16 concurrent clients, and prints p50/p99 of each, the
overhead (gated minus direct), gated calls/s, and the cost of verifying one macaroon. At 16
clients the site is saturated and a call's latency is mostly its wait in line, which is
printed beside it: there the figure is calls/s.

    .venv/bin/python bench/serving.py [--seconds 5] [--rounds 2] [--clients 1 16]
"""

import argparse
import asyncio
import json
import os
import subprocess
import sys
import time
import timeit
from pathlib import Path

from http_client import Client, pct

ROOT = Path(__file__).resolve().parent.parent
ADMIN_URL = os.environ.get(
    "BENCH_ADMIN_DATABASE_URL", "postgres://postgres@127.0.0.1:5432/postgres"
)
DB_NAME = "bench_serving"
DATABASE_URL = ADMIN_URL.rsplit("/", 1)[0] + "/" + DB_NAME
PORT, ENGINE_PORT = 8766, 8767
BODY = json.dumps(
    {"model": "echo", "messages": [{"role": "user", "content": "one two three"}], "max_tokens": 8}
).encode()
TARGET_OVERHEAD_MS, TARGET_CALLS_PER_S = 3.0, 300


class AuthClient(Client):
    """The benchmarks' client with any Authorization header; `fresh` reconnects for every
    request (the engine speaks HTTP/1.0, one request per connection, as the gateway meets it)."""

    def __init__(self, port: int, authorization: str = "", *, fresh: bool = False) -> None:
        super().__init__(port)
        self.auth = f"Authorization: {authorization}\r\n" if authorization else ""
        self.fresh = fresh

    async def request(self, method: str, path: str, body: bytes = b"") -> tuple[int, bytes]:
        answer = await super().request(method, path, body)
        if self.fresh and self.writer is not None:
            self.writer.close()
            self.writer = None
        return answer


def prepare() -> tuple[str, str]:
    """A fresh database with a served echo model, a paid L402 token and a funded requester;
    their Authorization headers."""
    import psycopg

    with psycopg.connect(ADMIN_URL, autocommit=True) as conn:
        conn.execute(f"DROP DATABASE IF EXISTS {DB_NAME} WITH (FORCE)")
        conn.execute(f"CREATE DATABASE {DB_NAME}")
    os.environ.update(
        DATABASE_URL=DATABASE_URL,
        DJANGO_SETTINGS_MODULE="marketplace.settings",
        SECRET_KEY="bench",
        LOG_LEVEL="WARNING",
        SERVING_L402_MAX_CREDIT_MSAT=str(10**12),
    )
    # This folder holds scripts named like the apps (payouts.py, serving.py), and Celery puts
    # the working directory on the path: run from the root, the apps first.
    os.chdir(ROOT)
    sys.path[:] = [str(ROOT)] + [p for p in sys.path if Path(p).resolve() != ROOT / "bench"]
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)
    from labeling.services.requesters import create_requester
    from payouts.services.demo_wallet import pay_fake_invoice
    from rewardmodel.models import TrainingRun
    from serving.models import ServedModel
    from serving.services import l402, publishing

    owner, _ = create_requester(username="owner")
    run = TrainingRun.objects.create(
        kind="ppo", status="succeeded", artifact_path="/echo", started_by=owner.user
    )
    prices = {"price_msat_per_1k_input": 1, "price_msat_per_1k_output": 1}
    model = publishing.publish_model(user=owner.user, run_id=run.id, name="echo", prices=prices)
    ServedModel.objects.filter(id=model.id).update(engine_url=f"http://127.0.0.1:{ENGINE_PORT}")
    model.refresh_from_db()
    challenge = l402.issue_challenge(served_model=model, credit_msat=10**11)
    preimage = pay_fake_invoice(bolt11=challenge.token.bolt11)
    from rest_framework.authtoken.models import Token

    from payouts.services.deposits import fund_requester

    payer, _ = create_requester(username="payer")
    fund_requester(requester=payer, amount_msat=10**11)
    bearer = f"Bearer {Token.objects.get_or_create(user=payer.user)[0].key}"
    from django.db import connection, connections

    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")
    connections.close_all()
    return f"L402 {challenge.macaroon}:{preimage}", bearer


def macaroon_cost_us(header: str) -> tuple[float, float, float]:
    """Microseconds to parse one macaroon (once per macaroon: parsed ones are kept), to
    verify it (the HMAC chain and caveats, every call), and to check the preimage."""
    from serving import macaroons
    from serving.models import L402Token

    value, _, preimage = header.removeprefix("L402 ").rpartition(":")
    root_key = bytes(L402Token.objects.get().root_key)
    parsed = macaroons.parse(value)
    payment_hash = macaroons.identifier_of(parsed).payment_hash
    now = int(time.time())
    count = 2000
    parse = timeit.timeit(lambda: macaroons.parse.__wrapped__(value), number=count)
    verify = timeit.timeit(
        lambda: macaroons.verify(parsed, root_key=root_key, now=now), number=count
    )
    check = timeit.timeit(lambda: macaroons.preimage_matches(preimage, payment_hash), number=count)
    return parse / count * 1e6, verify / count * 1e6, check / count * 1e6


def committed_update_ms() -> float:
    """What one committed UPDATE costs on this database now: the unit of the gateway's cost
    (a call holds with one and charges with a few, in two transactions)."""
    from django.db import connection, transaction

    from serving.models import L402Token

    token_id = L402Token.objects.get().id
    count = 200
    start = time.perf_counter()
    for _ in range(count):
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute(
                "UPDATE serving_l402token SET held_msat = held_msat WHERE id = %s", [token_id]
            )
    return (time.perf_counter() - start) / count * 1000


def measure(
    port: int, path: str, authorization: str, clients: int, seconds: float, *, fresh: bool
) -> tuple[list[float], int]:
    times: list[float] = []
    errors = 0

    async def one(deadline: float) -> None:
        nonlocal errors
        client = AuthClient(port, authorization, fresh=fresh)
        while time.perf_counter() < deadline:
            start = time.perf_counter()
            status, _ = await client.request("POST", path, BODY)
            if status == 200:
                times.append(time.perf_counter() - start)
            else:
                errors += 1

    async def main() -> None:
        deadline = time.perf_counter() + seconds
        await asyncio.gather(*(one(deadline) for _ in range(clients)))

    asyncio.run(main())
    return times, errors


def start(command: list[str], env: dict[str, str], port: int, health: str) -> subprocess.Popen:
    process = subprocess.Popen(command, cwd=ROOT, env={**os.environ, **env})
    for _ in range(150):
        try:
            asyncio.run(AuthClient(port, fresh=True).request("GET", health))
            return process
        except OSError:
            time.sleep(0.1)
    process.kill()
    raise SystemExit(f"{command[0]} did not start")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--rounds", type=int, default=2, help="alternating direct/gated rounds")
    parser.add_argument("--clients", type=int, nargs="+", default=[1, 16])
    parser.add_argument("--processes", type=int, default=2, help="gunicorn processes")
    parser.add_argument("--threads", type=int, default=8, help="threads per gunicorn process")
    args = parser.parse_args()
    header, bearer = prepare()
    parse_us, verify_us, preimage_us = macaroon_cost_us(header)
    update_ms = committed_update_ms()
    engine = start(
        [sys.executable, "-m", "serving.engines.server", "--engine", "echo", "--name", "echo",
         "--port", str(ENGINE_PORT)],
        {}, ENGINE_PORT, "/health",
    )  # fmt: skip
    site = start(
        [str(ROOT / ".venv/bin/gunicorn"), "marketplace.wsgi", "-b", f"127.0.0.1:{PORT}",
         "-w", str(args.processes), "-k", "gthread", "--threads", str(args.threads),
         "--keep-alive", "30", "--log-level", "warning"],
        {"DATABASE_URL": DATABASE_URL, "SECRET_KEY": "bench", "LOG_LEVEL": "WARNING",
         "DB_CONN_MAX_AGE": "600", "SERVING_RATE_LIMIT_CHALLENGES": ""},
        PORT, "/healthz",
    )  # fmt: skip
    try:
        measure(PORT, "/v1/chat/completions", header, 4, 1.0, fresh=False)  # warm up
        print(
            f"macaroon: parse {parse_us:.0f} µs (once per macaroon), verify {verify_us:.0f} µs"
            f"/call; preimage check {preimage_us:.1f} µs"
        )
        load = os.getloadavg()[0]
        print(f"PostgreSQL now: one committed UPDATE {update_ms:.2f} ms (load average {load:.1f})")
        print("clients  path     calls/s   p50 ms   p99 ms")
        for clients in args.clients:
            times_by: dict[str, list[float]] = {"direct": [], "L402": [], "Bearer": []}
            failed = 0
            for _ in range(args.rounds):  # alternate, so all see the same machine load
                for name, port, auth in (
                    ("direct", ENGINE_PORT, ""),
                    ("L402", PORT, header),
                    ("Bearer", PORT, bearer),
                ):
                    times, errors = measure(
                        port,
                        "/v1/chat/completions",
                        auth,
                        clients,
                        args.seconds,
                        fresh=name == "direct",
                    )
                    times_by[name] += times
                    failed += errors
            direct = times_by["direct"]
            for name, times in times_by.items():
                rate = len(times) / (args.rounds * args.seconds)
                print(
                    f"{clients:7d}  {name:7s} {rate:8.0f} {pct(times, 0.5):8.2f} "
                    f"{pct(times, 0.99):8.2f}"
                )
                if name != "direct":
                    # With several clients on a saturated site, a call mostly waits its turn:
                    # its latency is clients / throughput (Little's law), so there the
                    # throughput is the figure, and the overhead target is read at 1 client.
                    target = f" (target < {TARGET_OVERHEAD_MS})" if clients == 1 else ""
                    print(
                        f"         {name} overhead p50 {pct(times, 0.5) - pct(direct, 0.5):.2f} ms"
                        f"{target}, p99 {pct(times, 0.99) - pct(direct, 0.99):.2f} ms;"
                        f" gated calls/s {rate:.0f} (target ≥ {TARGET_CALLS_PER_S})"
                    )
                    if clients > 1 and rate:
                        print(
                            f"         waiting in line at {rate:.0f} calls/s: {clients} clients"
                            f" / {rate:.0f} = {clients / rate * 1000:.1f} ms a call"
                        )
            print(f"         errors: {failed}")
    finally:
        for process in (site, engine):
            process.terminate()
            process.wait(timeout=10)


if __name__ == "__main__":
    main()
