"""Worker pages as a thumb meets them: nothing moves under it, every target is big enough to hit
and every input big enough not to zoom, the withdrawal is followed to the end in place, Copy
copies, and the Spanish pages are Spanish throughout."""

import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import polib
import pytest
from coincurve import PrivateKey
from django.conf import settings
from django.test import Client
from playwright.sync_api import expect

from labeling.models import Worker
from payouts import wallet
from tests.e2e.conftest import DESKTOP, PHONE
from tests.payouts.factories import callback, credit_worker, withdraw_request_of

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

# Every layout shift not caused by the user's own input in the last 500 ms (the CLS rule).
LAYOUT_SHIFTS = """
window.__cls = 0;
window.__shifts = [];
new PerformanceObserver((list) => {
  for (const entry of list.getEntries()) {
    if (!entry.hadRecentInput) {
      window.__cls += entry.value;
      window.__shifts.push(entry.value);
    }
  }
}).observe({type: "layout-shift", buffered: true});
"""

# Visible tap targets (a radio's target is its label) and text inputs: size, text size, name.
TARGETS_JS = """
() => [...document.querySelectorAll(
    'a[href], button, summary, select, textarea, input:not([type=hidden]):not([type=radio]),' +
    ' label:has(input[type=radio])')]
  .filter(e => e.getClientRects().length && getComputedStyle(e).visibility !== 'hidden')
  .map(e => ({name: (e.id || e.textContent || e.name || e.tagName).trim().slice(0, 40),
              height: e.getBoundingClientRect().height,
              font: parseFloat(getComputedStyle(e).fontSize)}))
"""

# Labels of text fields sit above their field, on a line of their own.
LABELS_JS = """
() => [...document.querySelectorAll('label[for]')]
  .filter(l => l.getClientRects().length)
  .map(l => {
    const field = document.getElementById(l.htmlFor);
    return [l.htmlFor, l.getBoundingClientRect().bottom <= field.getBoundingClientRect().top + 1];
  })
"""

SPANISH_ITEMS = [
    {
        "prompt": f"Pregunta {i}: ¿cuánto es {i} más {i}?",
        "responses": [{"id": "a", "text": f"Son {i + i}."}, {"id": "b", "text": f"Son {3 * i}."}],
    }
    for i in range(1, 4)
]


def box(page: Any, selector: str) -> dict[str, float]:
    return page.locator(selector).first.bounding_box()


def answer_first_card(page: Any) -> str:
    prompt = page.locator("#prompt").inner_text()
    page.locator("#responses .card").first.tap()
    page.locator("#submit").tap()
    expect(page.locator("#prompt")).not_to_have_text(prompt)
    return prompt


def test_the_task_does_not_move_between_submit_and_the_next_task(
    new_page: Callable[..., Any], sign_in: Callable[..., Any], make_batch: Callable[..., Any]
) -> None:
    make_batch("pairwise")  # prompts of one length: the next task lays out like this one
    page = new_page(**PHONE)
    page.add_init_script(LAYOUT_SHIFTS)
    sign_in(page)
    expect(page.locator("#task")).to_be_visible()
    prompt_before, card_before = box(page, "#prompt"), box(page, "#responses .card")

    answer_first_card(page)
    expect(page.get_by_role("status")).to_have_text("Saved. Paid once reviewed: +5 sats")
    assert box(page, "#prompt") == prompt_before
    assert box(page, "#responses .card") == card_before
    # The line clears by itself 4 s later, and the task stays where it is.
    expect(page.locator("#status")).to_have_text("", timeout=6_000)
    assert box(page, "#prompt") == prompt_before
    assert box(page, "#responses .card") == card_before
    answer_first_card(page)
    page.wait_for_timeout(200)
    cls = page.evaluate("window.__cls")
    print(f"\n/work/ cumulative layout shift: {cls:.4f} {page.evaluate('window.__shifts')}")
    assert cls < 0.01


def open_withdrawal(page: Any) -> None:
    page.goto("/earnings/")
    page.get_by_role("button", name="Withdraw").click()
    page.wait_for_url("**/earnings/?withdrawal=*#withdraw")
    expect(page.locator("#open-wallet")).to_be_visible()


def assert_targets_fit_a_thumb(page: Any, where: str) -> int:
    targets = page.evaluate(TARGETS_JS)
    small = [t for t in targets if t["height"] < 43.5 or t["font"] < 16]
    assert targets and not small, (where, small)
    wrapped = [name for name, above in page.evaluate(LABELS_JS) if not above]
    assert not wrapped, (where, wrapped)
    return len(targets)


@pytest.mark.parametrize("viewport", [PHONE, DESKTOP], ids=["phone", "desktop"])
def test_every_target_on_the_worker_pages_is_44_px_with_16_px_text(
    new_page: Callable[..., Any],
    sign_in: Callable[..., Any],
    make_batch: Callable[..., Any],
    viewport: dict[str, Any],
) -> None:
    make_batch("ranking")
    page = new_page(**viewport)
    page.goto("/login/")
    page.locator("details.copy summary").click()
    assert_targets_fit_a_thumb(page, "/login/")

    sign_in(page)
    expect(page.locator("#task")).to_be_visible()
    assert_targets_fit_a_thumb(page, "/work/")
    page.locator("#report").click()
    expect(page.locator("#report-dialog")).to_be_visible()
    assert_targets_fit_a_thumb(page, "/work/ report dialog")
    page.get_by_role("button", name="Cancel").click()

    credit_worker(Worker.objects.get(), 21_000)
    page.goto("/earnings/")
    assert_targets_fit_a_thumb(page, "/earnings/")
    open_withdrawal(page)
    page.locator("details.copy summary").click()
    assert_targets_fit_a_thumb(page, "/earnings/ withdrawing")
    for path in ("/stats/", "/leaderboard/"):
        page.goto(path)
        assert_targets_fit_a_thumb(page, path)
    assert page.evaluate("document.documentElement.scrollWidth") <= viewport["viewport"]["width"]


def test_withdraw_lands_in_view_centred_copies_and_stays_paid(
    new_page: Callable[..., Any], sign_in: Callable[..., Any], live_server: Any
) -> None:
    page = new_page(**PHONE, permissions=["clipboard-read", "clipboard-write"])
    sign_in(page)
    worker = Worker.objects.get()
    credit_worker(worker, 30_000)
    open_withdrawal(page)

    # The heading shows below the sticky header, not under it.
    heading = page.get_by_role("heading", name="Withdraw")
    header = box(page, "header.bar")
    assert box(page, "#withdraw h2")["y"] >= header["y"] + header["height"]
    expect(heading).to_be_in_viewport()
    # The QR is centred in the panel, as on the sign-in page.
    qr, panel = box(page, "#withdraw .qr svg"), box(page, "#main .panel")
    assert abs((qr["x"] + qr["width"] / 2) - (panel["x"] + panel["width"] / 2)) < 2

    # "Copy the code" copies the LNURL and says so.
    code = page.locator("details.copy code").text_content().strip()
    page.get_by_text("Copy the code").tap()
    expect(page.locator(".copy-status")).to_have_text("Copied")
    assert page.evaluate("navigator.clipboard.readText()") == code
    assert page.get_attribute("#open-wallet", "href") == f"lightning:{code}"

    # A wallet scans it and is paid; the page follows without a reload and stays paid.
    page.evaluate("window.__marker = 1")
    row = page.locator(".history li").first
    expect(row.locator(".tag")).to_have_text("Open")
    wallet_client = Client()
    offer = withdraw_request_of(wallet_client, code)
    pr, _ = wallet.make_invoice(
        PrivateKey(), amount_msat=offer["maxWithdrawable"], network=settings.LIGHTNING_NETWORK
    )
    assert callback(wallet_client, offer["k1"], pr)["status"] == "OK"
    expect(page.get_by_text("Paid. The sats are in your wallet.")).to_be_visible()
    expect(row.locator(".tag")).to_have_text("Paid")
    expect(page.locator("#withdraw .qr")).to_be_hidden()
    page.wait_for_timeout(3_500)  # longer than any redirect the page could have scheduled
    expect(page.get_by_text("Paid. The sats are in your wallet.")).to_be_visible()
    expect(page.get_by_text("Nothing to withdraw yet.")).to_have_count(0)
    assert page.evaluate("window.__marker") == 1


# English words that no Spanish page uses, but which almost any English sentence has.
ENGLISH_WORDS = re.compile(r"\b(the|your|you|and|with|is|are|to|of|this|was|yet)\b")
TEXT_JS = """
() => [document.body.innerText,
  ...[...document.querySelectorAll('*')].flatMap(e => [...e.attributes]
      .filter(a => ['placeholder', 'aria-label', 'title', 'value'].includes(a.name)
                   || a.name.startsWith('data-text') || a.name.startsWith('data-label')
                   || a.name.startsWith('data-copied'))
      .map(a => a.value)),
  ...[...document.querySelectorAll('script[type="application/json"]')].map(s => s.textContent)
].join('\\n')
"""


def english_left(page: Any, sources: list[str]) -> list[str]:
    text = page.evaluate(TEXT_JS).replace("Wallet of Satoshi", "")  # a brand name
    found = [source for source in sources if re.search(rf"(?<!\w){re.escape(source)}(?!\w)", text)]
    return found + ENGLISH_WORDS.findall(text)


def test_the_spanish_pages_have_no_english_left(
    new_page: Callable[..., Any],
    sign_in: Callable[..., Any],
    make_batch: Callable[..., Any],
    live_server: Any,
) -> None:
    catalog = polib.pofile(str(Path(settings.BASE_DIR) / "locale/es/LC_MESSAGES/django.po"))
    # Source strings that read differently in Spanish (not "sats", "Spam" or "Error").
    sources = [e.msgid for e in catalog if e.msgstr and e.msgstr != e.msgid and len(e.msgid) > 3]
    make_batch("pairwise", items=SPANISH_ITEMS, instructions="Elige la **mejor** respuesta.")
    page = new_page(**PHONE)
    # The language the site's switch (/i18n/setlang/) remembers; the browser asks for English.
    page.context.add_cookies(
        [{"name": settings.LANGUAGE_COOKIE_NAME, "value": "es", "url": live_server.url}]
    )
    page.goto("/login/")
    expect(page.get_by_role("heading", name="Entra con tu monedero Lightning")).to_be_visible()
    assert english_left(page, sources) == []

    sign_in(page)
    assert page.get_attribute("html", "lang") == "es"
    assert english_left(page, sources) == []
    answer_first_card(page)
    expect(page.get_by_role("status")).to_have_text("Guardada. Se paga tras la revisión: +5 sats")
    assert english_left(page, sources) == []

    worker = Worker.objects.get()
    credit_worker(worker, 30_000)
    page.goto("/earnings/")
    expect(page.get_by_role("link", name="Tu saldo")).to_have_text(
        "Tu saldo: 30 sats"
    )  # the answer waits for its checks
    page.locator("#amount_sats").fill("31")  # more than the balance
    page.get_by_role("button", name="Retirar").tap()
    expect(page.get_by_role("alert")).to_have_text("El importe supera tu saldo.")
    assert english_left(page, sources) == []
    page.get_by_role("button", name="Retirar").tap()
    expect(page.locator("#open-wallet")).to_be_visible()
    page.locator("details.copy summary").tap()
    assert english_left(page, sources) == []
    for path in ("/stats/", "/leaderboard/"):
        page.goto(path)
        assert english_left(page, sources) == [], path
    page.get_by_role("link", name="Tus estadísticas").tap()
    page.get_by_role("button", name="Mostrarme en la clasificación").tap()
    # The form posts and the page reloads: read it once the new one is there.
    expect(page.get_by_role("button", name="Ocultarme de la clasificación")).to_be_visible()
    assert english_left(page, sources) == []
