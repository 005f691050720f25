"""Under the Content-Security-Policy, the pages, the admin and the API docs still work and
the browser reports no violation."""

from typing import Any

import pytest
from playwright.sync_api import expect

from tests.e2e.test_requester_flow import admin_login, requester_with_login

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def violations(page: Any) -> list[str]:
    seen: list[str] = []
    page.on(
        "console",
        lambda message: (
            seen.append(message.text) if "Content Security Policy" in message.text else None
        ),
    )
    return seen


def test_login_admin_and_api_docs_run_without_csp_violations(desktop: Any, make_batch: Any) -> None:
    seen = violations(desktop)
    desktop.goto("/login/")
    expect(desktop.locator("svg").first).to_be_visible()
    requester = requester_with_login("csp-requester")
    make_batch(owner=requester)
    admin_login(desktop, "csp-requester")
    for path in ["/admin/labeling/batch/", "/admin/labeling/batch/add/", "/admin/labeling/item/"]:
        desktop.goto(path)
        expect(desktop.locator("#content")).to_be_visible()
    desktop.goto("/api/docs/")
    expect(desktop.get_by_text("RLHF marketplace API")).to_be_visible()
    expect(desktop.locator(".opblock").first).to_be_visible()
    assert seen == []
