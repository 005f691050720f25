"""The requester's admin at 1366 px: the batch page leads to its dashboard, items and ratings,
the dashboard's gold chart draws its bars, and ratings read as texts, not answer keys."""

from collections.abc import Callable
from typing import Any

import pytest
from playwright.sync_api import expect

from labeling.models import Batch, Requester
from tests.e2e.test_requester_flow import admin_login, requester_with_login
from tests.labeling.quality_helpers import answer, gold_items, plain_items

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

LAPTOP = {"viewport": {"width": 1366, "height": 768}}


@pytest.fixture
def laptop(new_page: Callable[..., Any]) -> Any:
    return new_page(**LAPTOP)


@pytest.fixture
def lab(fund_requester: Callable[..., Any]) -> Requester:
    return requester_with_login("laptop-lab", fund_requester)


def test_batch_page_links_to_its_dashboard_items_and_ratings(
    laptop: Any, lab: Requester, make_batch: Callable[..., Batch], make_worker: Callable[..., Any]
) -> None:
    batch = make_batch("pairwise", items=plain_items(3), owner=lab)
    other = make_batch("pairwise", items=plain_items(2, start=10), owner=lab)
    answer(make_worker(), lambda a: "a")  # the first item served is the older batch's
    page = laptop
    admin_login(page, "laptop-lab")
    page.goto(f"/admin/labeling/batch/{batch.id}/change/")
    tools = page.locator(".object-tools")

    tools.get_by_role("link", name="Dashboard").click()
    expect(page.locator("h1")).to_have_text(f"Dashboard: {batch.name}")
    page.locator(".object-tools").get_by_role("link", name="Batch settings").click()
    expect(page).to_have_url(f"/admin/labeling/batch/{batch.id}/change/")

    tools.get_by_role("link", name="3 items").click()
    expect(page.locator("#result_list tbody tr")).to_have_count(3)
    expect(page.locator("#result_list")).not_to_contain_text("plain 10")

    page.go_back()
    tools.get_by_role("link", name="Ratings").click()
    expect(page.locator("#result_list tbody tr")).to_have_count(1)
    page.goto(f"/admin/labeling/batch/{other.id}/change/")
    tools.get_by_role("link", name="Ratings").click()
    expect(page).to_have_url(f"/admin/labeling/rating/?batch__id__exact={other.id}")
    expect(page.locator("#result_list tbody tr")).to_have_count(0)


def test_dashboard_gold_chart_draws_a_bar_for_every_non_zero_bucket(
    laptop: Any, lab: Requester, make_batch: Callable[..., Batch], make_worker: Callable[..., Any]
) -> None:
    batch = make_batch(
        "pairwise", items=gold_items(9) + plain_items(2), owner=lab, quality={"gold_overlap": 2}
    )
    good, bad = make_worker(), make_worker()
    for _ in range(9):
        answer(good, lambda a: "a")
        bad.refresh_from_db()
        answer(bad, lambda a: "b")
    page = laptop
    admin_login(page, "laptop-lab")
    page.goto(f"/admin/labeling/batch/{batch.id}/dashboard/")
    bars = page.locator("svg.bar-chart rect")
    expect(bars).to_have_count(5)
    sizes = [bars.nth(i).bounding_box() for i in range(5)]
    # One worker got no gold right (0-20 %), the other all of it (80-100 %).
    assert [box["height"] > 0 and box["width"] > 0 for box in sizes] == [
        True,
        False,
        False,
        False,
        True,
    ]
    expect(bars.first.locator("title")).to_have_text("0-20%: 1")


def test_dashboard_without_gold_answers_says_so_instead_of_an_empty_chart(
    laptop: Any, lab: Requester, make_batch: Callable[..., Batch]
) -> None:
    plain = make_batch("pairwise", items=plain_items(2), owner=lab)
    gold = make_batch("pairwise", items=gold_items(1) + plain_items(1), owner=lab)
    page = laptop
    admin_login(page, "laptop-lab")
    page.goto(f"/admin/labeling/batch/{plain.id}/dashboard/")
    expect(page.locator(".chart-empty")).to_have_text(
        "This batch has no gold items (items with a “gold” answer)."
    )
    page.goto(f"/admin/labeling/batch/{gold.id}/dashboard/")
    expect(page.locator(".chart-empty")).to_have_text("No worker has answered a gold item yet.")
    expect(page.locator("svg.bar-chart")).to_have_count(0)
