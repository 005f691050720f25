"""Real-browser fixtures: Debian's Chromium driven by Playwright (sync API) against live_server.

Playwright's sync API runs an event loop in the test thread, so Django would refuse ORM calls
from the test body without DJANGO_ALLOW_ASYNC_UNSAFE.
"""

import os
import urllib.parse
import urllib.request
from collections.abc import Callable, Iterator
from typing import Any

import lnurl
import pytest
from coincurve import PrivateKey

os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"

CHROMIUM = os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-gpu",
]
TIMEOUT_MS = 5_000  # every Playwright wait is bounded by this
PHONE = {
    "viewport": {"width": 390, "height": 844},
    "is_mobile": True,
    "has_touch": True,
    "device_scale_factor": 2,
}
DESKTOP = {"viewport": {"width": 1280, "height": 800}}


@pytest.fixture(scope="session")
def browser() -> Iterator[Any]:
    if not os.access(CHROMIUM, os.X_OK):
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(f"{CHROMIUM} is missing; CI must run the browser tests.")
        pytest.skip(f"{CHROMIUM} is missing (apt-get install chromium)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True
        )
        yield browser
        browser.close()


@pytest.fixture
def new_page(browser: Any, live_server: Any) -> Iterator[Callable[..., Any]]:
    """Opens pages on the live server, each in its own context (cookies, cache)."""
    contexts = []

    def open_page(**options: Any) -> Any:
        context = browser.new_context(base_url=live_server.url, locale="en-US", **options)
        context.set_default_timeout(TIMEOUT_MS)
        context.set_default_navigation_timeout(TIMEOUT_MS)
        contexts.append(context)
        return context.new_page()

    yield open_page
    for context in contexts:
        context.close()


@pytest.fixture
def phone(new_page: Callable[..., Any]) -> Any:
    """A page in a 390x844 touch phone viewport."""
    return new_page(**PHONE)


@pytest.fixture
def desktop(new_page: Callable[..., Any]) -> Any:
    """A page in a 1280x800 desktop viewport (mouse and keyboard)."""
    return new_page(**DESKTOP)


def wallet_sign_in(page: Any, base_url: str, key: PrivateKey | None = None) -> PrivateKey:
    """Signs a page in as a phone wallet would: decode the shown LNURL, sign k1, call back."""
    key = key or PrivateKey()
    page.goto(f"{base_url}/login/")
    k1 = page.get_attribute("#login", "data-k1")
    href = page.get_attribute("#open-wallet", "href")
    assert href.startswith("lightning:LNURL1")
    url = str(lnurl.url_decode(href.removeprefix("lightning:")))
    assert url.startswith(f"{base_url}/api/v1/auth/lnurl/callback/?")
    query = dict(urllib.parse.parse_qsl(urllib.parse.urlsplit(url).query))
    assert query["tag"] == "login" and query["k1"] == k1
    signed = urllib.parse.urlencode(
        {
            "sig": key.sign(bytes.fromhex(k1), hasher=None).hex(),
            "key": key.public_key.format(compressed=True).hex(),
        }
    )
    with urllib.request.urlopen(f"{url}&{signed}", timeout=5) as response:
        assert b'"OK"' in response.read()
    page.wait_for_url("**/work/")  # the page moves on by itself
    return key


@pytest.fixture
def sign_in(live_server: Any, settings: Any) -> Callable[..., PrivateKey]:
    """Signs a page in on the live server (see wallet_sign_in)."""
    settings.PUBLIC_BASE_URL = live_server.url

    def wallet_login(page: Any, key: PrivateKey | None = None) -> PrivateKey:
        return wallet_sign_in(page, live_server.url, key)

    return wallet_login
