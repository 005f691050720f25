"""The requester's admin at 1366 px: the batch page leads to its dashboard, items and ratings,
the dashboard's gold chart draws its bars, and ratings read as texts, not answer keys."""

import re
from collections.abc import Callable
from typing import Any

import pytest
from playwright.sync_api import expect

from labeling.models import Batch, Requester
from labeling.services import assignments as assignment_services
from labeling.services import ratings as rating_services
from tests.e2e.test_content_security_policy import violations
from tests.e2e.test_requester_flow import admin_login, requester_with_login
from tests.labeling.quality_helpers import answer, gold_items, plain_items

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

PAIR = [{"id": "a", "text": "Paris."}, {"id": "b", "text": "Lyon."}]
GREETINGS = [{"id": "hi", "text": "Hello there, how can I help?"}, {"id": "yo", "text": "Yo."}]
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
    answer(make_worker(), lambda a: "a")  # one rating, on the only batch there is yet
    other = make_batch("pairwise", items=plain_items(2, start=10), owner=lab)
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

    page.goto(f"/admin/labeling/batch/{batch.id}/change/")
    tools.get_by_role("link", name="Ratings").click()
    rated = page.locator("#result_list th.field-id")  # one per rating shown
    expect(rated).to_have_count(1)
    page.goto(f"/admin/labeling/batch/{other.id}/change/")
    tools.get_by_role("link", name="Ratings").click()
    expect(page).to_have_url(f"/admin/labeling/rating/?batch__id__exact={other.id}")
    expect(rated).to_have_count(0)


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


LONG_PROMPT = (
    "Summarise the following support ticket for the on-call engineer, keeping every "
    "error code and the customer's deadline: " + "the export to s3://bucket/path fails " * 12
)
LONG_ANSWERS = {
    "a": "The export fails with AccessDenied on s3://acme-exports/2026/12/daily; " * 6,
    "b": "Customer is unhappy. " * 20,
    "c": "https://example.com/" + "x" * 300,  # one long word
    "d": "Short.",
}


def long_items(n: int) -> list[dict]:
    return [
        {
            "prompt": f"{i}. {LONG_PROMPT}",
            "responses": [{"id": key, "text": text} for key, text in LONG_ANSWERS.items()],
        }
        for i in range(n)
    ]


def test_ratings_list_shows_texts_and_fits_a_1366_px_screen(
    laptop: Any, lab: Requester, make_batch: Callable[..., Batch], make_worker: Callable[..., Any]
) -> None:
    make_batch(
        "ranking",
        items=long_items(3),
        owner=lab,
        quality={"review_mode": "manual", "min_seconds": 60},  # pending and flagged too_fast
    )
    make_batch("pairwise", items=[{"prompt": "Capital of France?", "responses": PAIR}], owner=lab)
    for _ in range(3):
        answer(make_worker(), lambda a: "c")
    answer(make_worker(), lambda a: "b")  # the pairwise item, for Lyon
    page = laptop
    admin_login(page, "laptop-lab")
    page.goto("/admin/labeling/rating/")
    rows = page.locator("#result_list tbody tr")
    expect(rows).to_have_count(4)
    results = page.locator("#changelist-form .results")
    widths = results.evaluate("e => [e.querySelector('#result_list').scrollWidth, e.clientWidth]")
    assert widths[0] <= widths[1], widths
    # The review columns are on screen, not behind a horizontal scroll.
    right = results.bounding_box()["x"] + results.bounding_box()["width"]
    pending = rows.filter(has_text="Pending review").first
    for cell, text in [("worker_and_trust", "trust 0.60"), ("checks", "too fast")]:
        expect(pending.locator(f".field-{cell}")).to_contain_text(text)
    for cell in ["worker_and_trust", "checks", "status", "reward_msat"]:
        box = pending.locator(f".field-{cell}").bounding_box()
        assert box["x"] + box["width"] <= right <= 1366, cell

    # The answer reads as the texts, best first, not as keys; the whole text is on hover.
    pairwise = rows.filter(has_text="Capital of France?")
    expect(pairwise.locator(".answer li")).to_have_text(["Lyon.", "Paris."])
    ranking = rows.filter(has_text="AccessDenied").first
    first = ranking.locator(".answer li").first
    expect(first).to_contain_text("https://example.com/xxx")
    assert first.locator("span").get_attribute("title") == LONG_ANSWERS["c"]
    expect(ranking.locator(".field-prompt span")).to_have_attribute("title", f"2. {LONG_PROMPT}")
    assert " > " not in page.locator("#result_list").inner_text()


def test_rating_page_shows_the_prompt_and_each_answer_with_the_choice(
    laptop: Any, lab: Requester, make_batch: Callable[..., Batch], make_worker: Callable[..., Any]
) -> None:
    make_batch(
        "likert", items=[{"prompt": "Rate each greeting.", "responses": GREETINGS}], owner=lab
    )
    make_batch(
        "pairwise",
        items=[{"prompt": "Capital of France?\nOne word.", "responses": PAIR, "gold": ["a", "b"]}],
        owner=lab,
    )
    worker = make_worker()
    scored = rating_services.submit_rating(
        worker=worker,
        assignment_id=assignment_services.next_assignment_for(worker=worker).id,
        scores={"hi": 6, "yo": 2},
    )
    chosen = answer(worker, lambda a: "b")
    page = laptop
    seen = violations(page)
    admin_login(page, "laptop-lab")

    page.goto(f"/admin/labeling/rating/{chosen.id}/change/")
    expect(page.locator(".field-prompt_text")).to_contain_text("Capital of France?")
    table = page.locator(".answer-table tbody tr")
    expect(table).to_have_count(2)
    expect(table.first).to_contain_text("chosen")
    expect(table.first).to_contain_text("Lyon.")
    expect(table.nth(1)).to_contain_text("not chosen")
    expect(table.nth(1)).to_contain_text("Paris.")
    expect(page.locator(".answer-table thead")).to_contain_text("Known answer")
    expect(table.nth(1)).to_contain_text("right answer")  # Paris, which this worker missed

    page.goto(f"/admin/labeling/rating/{scored.id}/change/")
    expect(page.locator(".field-prompt_text")).to_contain_text("Rate each greeting.")
    expect(page.locator(".answer-table tbody tr")).to_have_text(
        [
            re.compile(r"score 6 of 7\s*hi.*Hello there, how can I help\?"),
            re.compile(r"score 2 of 7\s*yo.*Yo\."),
        ]
    )
    assert seen == []  # the texts' tables need no inline style or script
