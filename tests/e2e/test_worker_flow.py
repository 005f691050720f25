"""A labeler on a phone: sign in with a wallet, rate every task type, skip, report, earnings."""

from collections.abc import Callable
from typing import Any

import pytest
from playwright.sync_api import expect

from labeling.models import Assignment, Rating, Report, Worker
from labeling.services import review as review_services
from tests.conftest import ITEMS
from tests.e2e.conftest import PHONE as PHONE_OPTIONS

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

REWARD_SATS = 5  # make_batch's default reward: 5_000 msat


def card_ids(page: Any) -> list[str]:
    """The response ids in the order this assignment shows them."""
    return page.eval_on_selector_all("#responses .card", "cards => cards.map(c => c.dataset.id)")


def card(page: Any, response_id: str) -> Any:
    return page.locator(f'#responses .card[data-id="{response_id}"]')


def submit_and_wait(page: Any, prompt: str, sats: int) -> None:
    """Submits, then the next task (or the empty state) replaces this one in place."""
    page.locator("#submit").tap()
    expect(page.locator("#balance-sats")).to_have_text(f"{sats} sats")
    expect(page.locator("#prompt")).not_to_have_text(prompt)


def test_worker_rates_three_tasks_of_each_type_on_a_phone(
    phone: Any, sign_in: Callable[..., Any], make_batch: Callable[..., Any]
) -> None:
    make_batch("pairwise")  # five items: three rated, one skipped, one reported
    make_batch("ranking")
    make_batch("likert")
    page = phone

    sign_in(page)
    worker = Worker.objects.get()
    expect(page.locator("#balance-sats")).to_have_text("0 sats")
    # A new wallet is told its first answers are checked before they are paid.
    expect(page.locator(".probation")).to_contain_text("checked against known answers")
    review_services.vouch_for(worker=worker)  # a labeler the operator knows: paid at once
    page.evaluate("window.__marker = 1")  # dies with any full page load
    expected: dict[str, dict[str, Any]] = {}
    earned = 0

    # The instructions (Markdown) are one tap away.
    expect(page.locator("#instructions-body")).not_to_be_visible()
    page.locator("#instructions summary").tap()
    expect(page.locator("#instructions-body strong")).to_have_text("better")
    page.locator("#instructions summary").tap()

    # Pairwise: tap a card, submit. Plus one Skip and one Report along the way.
    for n in range(5):
        prompt = page.locator("#prompt").inner_text()
        expect(page.locator("#hint")).to_have_text("Tap the better answer.")
        ids = card_ids(page)
        assert len(ids) == 2
        if n == 2:
            page.locator("#skip").tap()
            expect(page.locator("#prompt")).not_to_have_text(prompt)
            expected[prompt] = {"skipped": True}
            continue
        if n == 3:
            page.locator("#report").tap()
            dialog = page.locator("#report-dialog")
            expect(dialog).to_be_visible()
            dialog.get_by_label("Broken or unreadable").check()
            dialog.get_by_label("Note (optional)").fill("The answers are cut off.")
            dialog.get_by_role("button", name="Send report").tap()
            expect(dialog).not_to_be_visible()
            expect(page.locator("#prompt")).not_to_have_text(prompt)
            expected[prompt] = {"reported": True}
            continue
        expect(page.locator("#submit")).to_be_disabled()
        best = ids[n % 2]
        card(page, best).tap()
        expect(card(page, best)).to_have_attribute("aria-pressed", "true")
        expect(page.locator("#submit")).to_be_enabled()
        rationale = ""
        if n == 0:
            rationale = "The other answer gets the arithmetic wrong."
            page.get_by_label("Why? (optional)").fill(rationale)
        earned += REWARD_SATS
        submit_and_wait(page, prompt, earned)
        expected[prompt] = {
            "ranking": [best, *[i for i in ids if i != best]],
            "rationale": rationale,
        }

    # Ranking: tap from best to worst; Undo once.
    for n, order in enumerate(([2, 0, 1], [1, 2, 0], [0, 1, 2])):
        prompt = page.locator("#prompt").inner_text()
        expect(page.locator("#hint")).to_have_text("Tap the answers from best to worst.")
        ids = card_ids(page)
        assert len(ids) == 3
        ranking = [ids[i] for i in order]
        if n == 0:
            card(page, ranking[1]).tap()
            expect(card(page, ranking[1]).locator(".badge")).to_have_text("#1")
            page.get_by_role("button", name="Undo").tap()
            expect(card(page, ranking[1]).locator(".badge")).to_have_text("")
            expect(card(page, ranking[1])).to_have_attribute("aria-pressed", "false")
        for place, response_id in enumerate(ranking, start=1):
            card(page, response_id).tap()
            expect(card(page, response_id).locator(".badge")).to_have_text(f"#{place}")
        earned += REWARD_SATS
        submit_and_wait(page, prompt, earned)
        expected[prompt] = {"ranking": ranking, "rationale": ""}

    # Likert: a 1-7 score for each answer (a second tap changes it).
    for n, scores in enumerate(([1, 7], [2, 6], [5, 4])):
        prompt = page.locator("#prompt").inner_text()
        ids = card_ids(page)
        assert len(ids) == 2
        expect(page.locator("#submit")).to_be_disabled()
        for response_id, score in zip(ids, scores, strict=True):
            scale = card(page, response_id).locator(".scale")
            expect(scale.get_by_role("radio")).to_have_count(7)
            if n == 2:
                scale.get_by_role("radio", name="3").tap()
            scale.get_by_role("radio", name=str(score)).tap()
            expect(scale.get_by_role("radio", checked=True)).to_have_text(str(score))
        rationale = "Both are fine, the first is clearer." if n == 1 else ""
        if rationale:
            page.get_by_label("Why? (optional)").fill(rationale)
        earned += REWARD_SATS
        page.locator("#submit").tap()
        expect(page.locator("#balance-sats")).to_have_text(f"{earned} sats")
        if n < 2:
            expect(page.locator("#prompt")).not_to_have_text(prompt)
        expected[prompt] = {"scores": dict(zip(ids, scores, strict=True)), "rationale": rationale}

    # Done: a clear empty state, still the same page.
    expect(page.get_by_role("heading", name="No tasks right now")).to_be_visible()
    expect(page.locator("#task")).to_be_hidden()
    # A new batch arrives: "Check again" shows its task, still without a reload.
    make_batch("pairwise", items=ITEMS["pairwise"][:1])
    page.get_by_role("button", name="Check again").tap()
    expect(page.locator("#task")).to_be_visible()
    expect(page.locator("#empty")).to_be_hidden()
    assert page.evaluate("window.__marker") == 1

    # The database holds exactly what was tapped.
    ratings = {
        r.item.prompt: r for r in Rating.objects.filter(worker=worker).select_related("item")
    }
    assert len(ratings) == 9
    for prompt, want in expected.items():
        if "skipped" in want or "reported" in want:
            assert prompt not in ratings
            assignment = Assignment.objects.get(worker=worker, item__prompt=prompt)
            assert assignment.status == Assignment.Status.SKIPPED
            continue
        rating = ratings[prompt]
        assert rating.status == Rating.Status.APPROVED
        assert rating.rationale == want["rationale"]
        if "scores" in want:
            assert rating.scores == want["scores"] and rating.ranking is None
        else:
            assert rating.ranking == want["ranking"] and rating.scores is None
    report = Report.objects.get()
    assert (report.worker, report.reason, report.note) == (
        worker,
        "broken",
        "The answers are cut off.",
    )

    # The earnings page lists every rating.
    page.get_by_role("link", name="Your balance").tap()
    page.wait_for_url("**/earnings/")
    expect(page.locator(".history li")).to_have_count(9)
    expect(page.locator(".stats")).to_contain_text(f"{earned} sats")


# Contrast of an element's text against the first opaque background behind it (WCAG 2).
CONTRAST_JS = """
els => els.filter(e => e.offsetParent !== null && e.textContent.trim()).map(e => {
  const rgb = s => (s.match(/[\\d.]+/g) || []).map(Number);
  const lum = ([r, g, b]) => [r, g, b].map(v => v / 255)
    .map(v => v <= 0.03928 ? v / 12.92 : ((v + 0.055) / 1.055) ** 2.4)
    .reduce((sum, v, i) => sum + v * [0.2126, 0.7152, 0.0722][i], 0);
  let node = e, bg = null;
  while (node && !bg) {
    const c = rgb(getComputedStyle(node).backgroundColor);
    if (c.length === 3 || c[3] === 1) bg = c.slice(0, 3);
    node = node.parentElement;
  }
  const fg = rgb(getComputedStyle(e).color).slice(0, 3);
  const [hi, lo] = [lum(fg), lum(bg || [255, 255, 255])].sort((a, b) => b - a);
  return [e.id || e.className || e.tagName, Math.round((hi + 0.05) / (lo + 0.05) * 10) / 10];
})
"""


def test_task_page_is_light_labelled_and_readable_on_a_phone(
    phone: Any,
    new_page: Callable[..., Any],
    sign_in: Callable[..., Any],
    make_batch: Callable[..., Any],
    tmp_path: Any,
) -> None:
    make_batch("ranking")
    sign_in(phone)

    # Page weight: a cold cache, the signed-in session, HTML + CSS + JS as served.
    page = new_page(**PHONE_OPTIONS, storage_state=phone.context.storage_state())
    sizes: dict[str, int] = {}
    page.on(
        "response",
        lambda response: (
            sizes.__setitem__(response.url, len(response.body()))
            if response.request.resource_type in {"document", "stylesheet", "script"}
            else None
        ),
    )
    page.goto("/work/")
    expect(page.locator("#task")).to_be_visible()
    total = sum(sizes.values())
    print(f"\n/work/ page weight: {total} bytes {sizes}")
    assert len(sizes) == 3  # the page, app.css, task.js: nothing else
    assert total < 100_000

    # Accessible names: each answer card is a button named by its text.
    ids = card_ids(page)
    for response_id in ids:
        text = card(page, response_id).locator(".text").inner_text()
        expect(page.get_by_role("button", name=text)).to_have_count(1)
    expect(page.get_by_role("textbox", name="Why? (optional)")).to_be_visible()
    expect(page.get_by_role("link", name="Your balance")).to_contain_text("0 sats")
    assert page.get_attribute("html", "lang") == "en"
    # Desktop keyboard hints stay out of the way on a phone.
    expect(page.locator("p.desk")).to_be_hidden()
    card(page, ids[0]).tap()

    contrast = page.eval_on_selector_all(
        "#main h1, #main h2, #main label, #main p, #main .btn, #main .card, #main .badge, "
        "#main summary, .bar a",
        CONTRAST_JS,
    )
    low = [(name, ratio) for name, ratio in contrast if ratio < 4.5]
    assert contrast and not low, low

    # Nothing wider than the phone's screen.
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
    page.screenshot(path=str(tmp_path / "task.png"), full_page=True)
    assert (tmp_path / "task.png").stat().st_size > 1000


def test_keyboard_shortcuts_on_desktop(
    desktop: Any, sign_in: Callable[..., Any], make_batch: Callable[..., Any]
) -> None:
    make_batch("pairwise", items=ITEMS["pairwise"][:2])
    make_batch("ranking", items=ITEMS["ranking"][:1])
    make_batch("likert", items=ITEMS["likert"][:1], quality={"review_mode": "manual"})
    page = desktop
    sign_in(page)
    worker = Worker.objects.get()
    review_services.vouch_for(worker=worker)  # a labeler the operator knows: paid at once
    expect(page.locator("p.desk")).to_be_visible()

    # i: instructions; 1-9 choose; typing in the rationale is not a shortcut; Enter submits.
    prompt = page.locator("#prompt").inner_text()
    ids = card_ids(page)
    page.keyboard.press("i")
    expect(page.locator("#instructions-body")).to_be_visible()
    page.keyboard.press("i")
    expect(page.locator("#instructions-body")).to_be_hidden()
    page.keyboard.press("2")
    expect(card(page, ids[1])).to_have_attribute("aria-pressed", "true")
    page.locator("#rationale").fill("")
    page.locator("#rationale").press("1")
    expect(card(page, ids[0])).to_have_attribute("aria-pressed", "false")
    page.locator("#rationale").fill("key 2")
    page.locator("#prompt").click()  # focus back on the page
    page.keyboard.press("Enter")
    expect(page.locator("#prompt")).not_to_have_text(prompt)
    expect(page.locator("#balance-sats")).to_have_text("5 sats")
    first = Rating.objects.get(worker=worker, item__prompt=prompt)
    assert (first.ranking, first.rationale) == ([ids[1], ids[0]], "key 2")

    # s: skip.
    prompt = page.locator("#prompt").inner_text()
    page.keyboard.press("s")
    expect(page.locator("#prompt")).not_to_have_text(prompt)
    assert Assignment.objects.get(worker=worker, item__prompt=prompt).status == "skipped"

    # Ranking: 3, 1, u (undo), 2, Enter.
    prompt = page.locator("#prompt").inner_text()
    ids = card_ids(page)
    for key in ("3", "1", "u", "2"):
        page.keyboard.press(key)
    expect(card(page, ids[0])).to_have_attribute("aria-pressed", "false")
    page.keyboard.press("Enter")
    expect(page.locator("#prompt")).not_to_have_text(prompt)
    assert Rating.objects.get(worker=worker, item__prompt=prompt).ranking == [
        ids[2],
        ids[1],
        ids[0],
    ]

    # Likert: digits score the answers in order.
    prompt = page.locator("#prompt").inner_text()
    ids = card_ids(page)
    page.keyboard.press("5")
    page.keyboard.press("3")
    page.keyboard.press("Enter")
    expect(page.get_by_role("heading", name="No tasks right now")).to_be_visible()
    # This batch's requester reviews every rating: nothing is available yet, and the page says so.
    expect(page.get_by_role("status")).to_have_text("Saved. Paid once reviewed: +5 sats")
    expect(page.locator("#balance-sats")).to_have_text("10 sats")
    last = Rating.objects.get(worker=worker, item__prompt=prompt)
    assert (last.scores, last.status) == ({ids[0]: 5, ids[1]: 3}, Rating.Status.PENDING_REVIEW)
