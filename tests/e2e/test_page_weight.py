"""What a labeler on a slow connection downloads: every worker page under 30 KB as sent, with the
static files compressed and cached for good, under gunicorn as in production and under
`make run`. The site runs on its own SQLite file with the demo data, whatever the suite uses."""

import os
import subprocess
import sys
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
from playwright.sync_api import expect

from tests.e2e.conftest import PHONE, TIMEOUT_MS, wallet_sign_in
from tests.processes import free_port, stop_group, wait_for_http

pytestmark = pytest.mark.browser

ROOT = Path(__file__).resolve().parents[2]
PAGE_BUDGET = 30_000  # bytes on the wire per page: HTML, CSS and JS as sent
WORKER_PAGES = ["/work/", "/earnings/", "/stats/", "/leaderboard/"]


def site_env(tmp: Path, port: int) -> dict[str, str]:
    return {
        **os.environ,
        "DATABASE_URL": f"sqlite:///{tmp / 'db.sqlite3'}",
        "STATIC_ROOT": str(tmp / "static"),
        "PUBLIC_BASE_URL": f"http://127.0.0.1:{port}",
        "SECRET_KEY": "page-weight-test-key",
        "CELERY_BROKER_URL": "",
        "LIGHTNING_BACKEND": "fake",
        "LOG_LEVEL": "WARNING",
        "DEBUG": "0",
    }


def serve(command: list[str], env: dict[str, str], port: int) -> subprocess.Popen:
    process = subprocess.Popen(
        [sys.executable, *command],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    if not wait_for_http(f"http://127.0.0.1:{port}/api/v1/lightning/info/", process, 30):
        stop_group(process)
        raise RuntimeError(f"{command[0]} did not start")
    return process


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Path, dict[str, str]]]:
    """A migrated SQLite file with the demo data and collected static files."""
    tmp = tmp_path_factory.mktemp("site")
    env = site_env(tmp, 0)
    for command in (
        ["migrate", "--noinput", "-v", "0"],
        ["loaddemo"],
        ["collectstatic", "--noinput", "-v", "0"],
    ):
        subprocess.run(
            [sys.executable, "manage.py", *command],
            cwd=ROOT,
            env=env,
            check=True,
            timeout=120,
            stdout=subprocess.DEVNULL,
        )
    yield tmp, env


def weigh(browser: Any, state: Any, url: str) -> tuple[int, dict[str, dict[str, str]]]:
    """Bytes on the wire for the page and all it loads, from a cold cache with the same
    session, and the headers of the page, its CSS and JS by path."""
    context = browser.new_context(**PHONE, storage_state=state)
    context.set_default_timeout(TIMEOUT_MS)
    page = context.new_page()
    responses: list[Any] = []

    def listener(response: Any) -> None:
        responses.append(response)

    page.on("response", listener)
    page.goto(url)
    page.wait_for_load_state("load")
    total = 0
    headers = {}
    for response in responses:
        sizes = response.request.sizes()
        total += sizes["responseBodySize"] + sizes["responseHeadersSize"]
        if response.request.resource_type in {"document", "stylesheet", "script"}:
            headers[urlsplit(response.url).path] = response.all_headers()
    context.close()
    return total, headers


def test_worker_pages_weigh_under_30_kb_with_compressed_static_files_under_gunicorn(
    site: tuple[Path, dict[str, str]], browser: Any
) -> None:
    tmp, _ = site
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    command = ["-m", "gunicorn", "marketplace.wsgi", "-b", f"127.0.0.1:{port}", "-w", "2"]
    server = serve(command, site_env(tmp, port), port)
    try:
        context = browser.new_context(**PHONE)
        context.set_default_timeout(TIMEOUT_MS)
        page = context.new_page()
        weight, headers = weigh(browser, None, f"{base}/login/")
        weights = {"/login/": weight}
        wallet_sign_in(page, base)
        # A few answers for history, stats and a chart (six this quick would close the wallet).
        for _ in range(5):
            prompt = page.locator("#prompt").inner_text()
            cards = page.locator("#responses .card")
            if page.locator("#responses .scale").count():
                for scale in page.locator("#responses .scale").all():
                    scale.get_by_role("radio", name="5").tap()
            else:
                for n in range(cards.count()):
                    cards.nth(n).tap()
            page.locator("#submit").tap()
            expect(page.locator("#prompt")).not_to_have_text(prompt)
        page.goto(f"{base}/stats/")
        page.get_by_role("button", name="Show me on the leaderboard").tap()
        expect(page.get_by_role("button", name="Hide me from the leaderboard")).to_be_visible()
        for path in WORKER_PAGES:
            weights[path], more = weigh(browser, context.storage_state(), f"{base}{path}")
            headers |= more
        # Answers that quick wait for review: money to withdraw comes from a test deposit.
        credit = (
            "from labeling.models import Worker; from tests.payouts.factories import credit_worker;"
            " credit_worker(Worker.objects.get(), 50_000)"
        )
        subprocess.run(
            [sys.executable, "manage.py", "shell", "-c", credit],
            cwd=ROOT,
            env=site_env(tmp, port),
            check=True,
            timeout=60,
        )
        page.goto(f"{base}/earnings/")
        page.get_by_role("button", name="Withdraw").tap()
        expect(page.locator("#open-wallet")).to_be_visible()
        withdrawing = page.url.split("#")[0]
        weights["/earnings/ (withdrawing)"], more = weigh(
            browser, context.storage_state(), withdrawing
        )
        headers |= more
        context.close()
    finally:
        stop_group(server)
    print(f"\npage weights (bytes on the wire): {weights}")
    assert all(weight < PAGE_BUDGET for weight in weights.values()), weights

    pages = {url: h for url, h in headers.items() if "/static/" not in url}
    static = {url: h for url, h in headers.items() if "/static/" in url}
    assert {Path(url).suffix for url in static} == {".css", ".js"}
    for url, h in static.items():
        # Content-hashed names, compressed, cached for good.
        assert len(Path(url).stem.split(".")) == 2, url
        assert h.get("content-encoding") in {"br", "gzip"}, (url, h)
        assert "immutable" in h["cache-control"], (url, h)
    for url, h in pages.items():
        assert h.get("content-encoding") == "gzip", (url, h)


def test_make_run_serves_compressed_static_files(site: tuple[Path, dict[str, str]]) -> None:
    tmp, _ = site
    port = free_port()
    env = site_env(tmp, port) | {"DEBUG": "1", "STATIC_COLLECTED": "1"}
    server = serve(["manage.py", "runserver", f"127.0.0.1:{port}", "--noreload"], env, port)
    try:
        for name in ("app.css", "task.js", "wallet.js"):
            request = urllib.request.Request(
                f"http://127.0.0.1:{port}/static/{name}", headers={"Accept-Encoding": "gzip"}
            )
            with urllib.request.urlopen(request, timeout=10) as response:
                assert response.headers["Content-Encoding"] == "gzip", name
                body = response.read()
            assert len(body) < (Path(ROOT) / "static" / name).stat().st_size / 2, name
    finally:
        stop_group(server)
