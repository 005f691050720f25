"""A crowd on the embedded set-up: N labelers sign in at once and rate, on SQLite.

Starts the site as `make run` does (DEBUG=1, `manage.py migrate`, `manage.py runserver`,
threaded) on a scratch SQLite file, loads one funded pairwise batch, then every simulated
labeler signs in over HTTP as a wallet does (POST /api/v1/auth/lnurl/, the signed callback,
the page's poll for the token) and rates (GET next + POST submit) until time runs out.
Prints per N: errors by status, sign-in p50/p99, ratings/s and p99 latency.

    .venv/bin/python bench/sqlite_crowd.py [--workers 10 25 50] [--seconds 15]
"""

import argparse
import asyncio
import json
import os
import socket
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path
from urllib.parse import urlsplit

from bench_batch import post_pairwise_batch
from coincurve import PrivateKey
from http_client import Client, pct

ROOT = Path(__file__).resolve().parent.parent
NETWORK_ERRORS = (OSError, ConnectionError, asyncio.IncompleteReadError)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def site_env(database_url: str, port: int) -> dict[str, str]:
    return {
        **os.environ,
        "DEBUG": "1",
        "DATABASE_URL": database_url,
        "PUBLIC_BASE_URL": f"http://127.0.0.1:{port}",
        "LOG_LEVEL": "WARNING",
        # Many sign-ins from one address: the login rate limits would throttle the bench.
        "RATE_LIMIT_LOGIN": "",
        "RATE_LIMIT_LNURL": "",
    }


def prepare(env: dict[str, str], items: int) -> None:
    """Migrates the scratch database and loads one funded pairwise batch."""
    subprocess.run(
        [sys.executable, "manage.py", "migrate", "--noinput", "-v", "0"],
        cwd=ROOT,
        env=env,
        check=True,
    )
    os.environ.update(env, DJANGO_SETTINGS_MODULE="marketplace.settings")
    sys.path.insert(0, str(ROOT))
    import django

    django.setup()
    from django.db import connections

    post_pairwise_batch(name="crowd", items=items)
    connections.close_all()


class Stats:
    def __init__(self) -> None:
        self.errors: Counter[str] = Counter()
        self.sign_in: list[float] = []
        self.calls: list[float] = []
        self.ratings = 0


async def call(
    client: Client, stats: Stats, method: str, path: str, body: bytes = b""
) -> tuple[int, bytes]:
    """One request, timed; a network error counts as an error with status 0."""
    start = time.perf_counter()
    try:
        status, data = await client.request(method, path, body)
    except NETWORK_ERRORS:
        client.writer = None
        stats.errors["no answer"] += 1
        return 0, b""
    stats.calls.append(time.perf_counter() - start)
    if status >= 300:
        stats.errors[str(status)] += 1
    return status, data


async def sign_in(port: int, stats: Stats) -> str | None:
    """LNURL-auth as a wallet and the sign-in page do it; returns the API token."""
    client, key, start = Client(port), PrivateKey(), time.perf_counter()
    status, data = await call(client, stats, "POST", "/api/v1/auth/lnurl/")
    if status != 201:
        return None
    offer = json.loads(data)
    await call(
        client, stats, "GET", f"/api/v1/auth/lnurl/{offer['k1']}/?poll_key={offer['poll_key']}"
    )  # the page polls
    sig = key.sign(bytes.fromhex(offer["k1"]), hasher=None).hex()
    url = urlsplit(offer["url"])
    callback = f"{url.path}?{url.query}&sig={sig}&key={key.public_key.format().hex()}"
    status, data = await call(client, stats, "GET", callback)
    if status != 200:
        return None
    if json.loads(data)["status"] != "OK":
        stats.errors["lnurl ERROR"] += 1
        return None
    for _ in range(20):
        status, data = await call(
            client, stats, "GET", f"/api/v1/auth/lnurl/{offer['k1']}/?poll_key={offer['poll_key']}"
        )
        if status == 200:
            stats.sign_in.append(time.perf_counter() - start)
            return json.loads(data)["token"]
        if status != 202:
            return None
        await asyncio.sleep(0.1)
    return None


async def labeler(port: int, deadline: float, stats: Stats) -> None:
    token = await sign_in(port, stats)
    if token is None:
        return
    client = Client(port, token)
    while time.perf_counter() < deadline:
        status, data = await call(client, stats, "GET", "/api/v1/tasks/next/")
        if status != 200:
            await asyncio.sleep(0.05)
            continue
        task = json.loads(data)
        answer = json.dumps({"ranking": [r["id"] for r in task["task"]["responses"]]})
        path = f"/api/v1/assignments/{task['assignment_id']}/submit/"
        status, _ = await call(client, stats, "POST", path, answer.encode())
        stats.ratings += status == 201


def crowd(port: int, workers: int, seconds: float) -> tuple[Stats, float]:
    stats = Stats()

    async def main() -> float:
        start = time.perf_counter()
        deadline = start + seconds
        await asyncio.gather(*(labeler(port, deadline, stats) for _ in range(workers)))
        return time.perf_counter() - start

    return stats, asyncio.run(main())


def start_server(env: dict[str, str], port: int, log: Path) -> subprocess.Popen:
    server = subprocess.Popen(
        [sys.executable, "manage.py", "runserver", f"127.0.0.1:{port}", "--noreload"],
        cwd=ROOT,
        env=env,
        stdout=log.open("w"),
        stderr=subprocess.STDOUT,
    )
    for _ in range(150):
        try:
            asyncio.run(Client(port).request("GET", "/api/v1/lightning/info/"))
            return server
        except NETWORK_ERRORS:
            time.sleep(0.1)
    server.kill()
    raise SystemExit(f"runserver did not start; see {log}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workers", type=int, nargs="+", default=[10, 25, 50])
    parser.add_argument("--seconds", type=float, default=15)
    parser.add_argument("--items", type=int, default=5_000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="sqlite-crowd-") as tmp:
        port = free_port()
        env = site_env(f"sqlite:///{tmp}/db.sqlite3", port)
        prepare(env, args.items)
        log = Path(tmp) / "runserver.log"
        server = start_server(env, port, log)
        try:
            for n in args.workers:
                stats, elapsed = crowd(port, n, args.seconds)
                errors = ", ".join(f"{k}: {v}" for k, v in sorted(stats.errors.items()))
                print(
                    f"N={n:>3}: errors {sum(stats.errors.values())} ({errors or 'none'}) | "
                    f"signed in {len(stats.sign_in)}/{n}, p50 {pct(stats.sign_in, 0.5):.0f} ms "
                    f"p99 {pct(stats.sign_in, 0.99):.0f} ms | "
                    f"{stats.ratings / elapsed:5.1f} ratings/s | "
                    f"requests p50 {pct(stats.calls, 0.5):.0f} ms "
                    f"p99 {pct(stats.calls, 0.99):.0f} ms"
                )
        finally:
            server.terminate()
            server.wait(timeout=10)
        locked = log.read_text().count("OperationalError: database is locked")
        print(f"'database is locked' errors in the server log: {locked}")


if __name__ == "__main__":
    main()
