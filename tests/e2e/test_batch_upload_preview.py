"""The admin upload says what a batch will cost before anything is reserved, and keeps the
chosen file across tries (a preview, a mistake), so a requester never picks it again."""

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import expect

from labeling.models import Batch, Requester
from tests.conftest import client_for
from tests.e2e.test_content_security_policy import violations
from tests.e2e.test_requester_flow import admin_login, requester_with_login

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

LAPTOP = {"viewport": {"width": 1366, "height": 768}}
PAIR = [{"id": "a", "text": "Paris."}, {"id": "b", "text": "Lyon."}]


@pytest.fixture
def lab(fund_requester: Callable[..., Any]) -> Requester:
    return requester_with_login("preview-lab", fund_requester)  # 1,000 sats


@pytest.fixture
def page(new_page: Callable[..., Any], lab: Requester) -> Any:
    page = new_page(**LAPTOP)
    admin_login(page, "preview-lab")
    page.goto("/admin/labeling/batch/add/")
    return page


def write_items(path: Path, items: list[dict]) -> Path:
    path.write_text("".join(json.dumps(item) + "\n" for item in items))
    return path


def fill(page: Any, *, name: str, reward_msat: str, overlap: str, task_type: str = "pairwise"):
    page.get_by_label("Name").fill(name)
    page.get_by_label("Task type").select_option(task_type)
    page.get_by_label("Reward msat").fill(reward_msat)
    page.get_by_label("Overlap").fill(overlap)


def balances(requester: Requester) -> tuple[int, int]:
    body = client_for(requester.user).get("/api/v1/requester/").json()
    return body["balance_msat"], body["reserved_msat"]


def test_preview_shows_ratings_and_cost_with_gold_before_anything_is_reserved(
    page: Any, lab: Requester, tmp_path: Path
) -> None:
    seen = violations(page)
    items = [
        {"prompt": "Capital of France?", "responses": PAIR, "gold": ["a", "b"]},
        {"prompt": "Capital of Spain?", "responses": PAIR},
        {"prompt": "Capital of Peru?", "responses": PAIR},
    ]
    fill(page, name="Capitals", reward_msat="5000", overlap="2")
    page.get_by_label("File").set_input_files(write_items(tmp_path / "capitals.jsonl", items))
    page.get_by_role("button", name="Preview cost").click()

    preview = page.locator("#cost-preview")
    rows = preview.locator("tbody tr")
    expect(rows).to_have_count(2)
    expect(rows.nth(0).locator("td")).to_have_text(
        ["2 items \N{MULTIPLICATION SIGN} 2 workers", "4", "5 sats", "20 sats"]
    )
    expect(rows.nth(1).locator("td")).to_have_text(
        ["1 gold item \N{MULTIPLICATION SIGN} 20 workers", "20", "5 sats", "100 sats"]
    )
    expect(page.locator("#cost-ratings")).to_have_text("24")
    expect(page.locator("#cost-total")).to_have_text("120 sats")
    expect(page.locator("#cost-balance")).to_have_text("Your available balance: 1,000 sats.")
    assert Batch.objects.count() == 0
    assert balances(lab) == (1_000_000, 0)  # nothing reserved by looking

    page.get_by_role("button", name="Create batch and reserve 120 sats").click()
    expect(page.locator(".messagelist")).to_contain_text("created with 3 items; 120 sats reserved")
    assert balances(lab) == (1_000_000 - 120_000, 120_000)  # what the preview said
    assert seen == []


def test_a_field_changed_after_the_preview_shows_the_new_cost_to_confirm(
    page: Any, lab: Requester, tmp_path: Path
) -> None:
    items = [{"prompt": f"q{i}", "responses": PAIR} for i in range(4)]
    fill(page, name="Four", reward_msat="1500", overlap="2")
    page.get_by_label("File").set_input_files(write_items(tmp_path / "four.jsonl", items))
    page.get_by_role("button", name="Preview cost").click()
    expect(page.locator("#cost-total")).to_have_text("12 sats")

    page.get_by_label("Overlap").fill("3")
    page.get_by_role("button", name="Create batch and reserve 12 sats").click()
    expect(page.locator(".errornote")).to_contain_text("The cost changed")
    expect(page.locator("#cost-total")).to_have_text("18 sats")
    assert Batch.objects.count() == 0

    page.get_by_role("button", name="Create batch and reserve 18 sats").click()
    expect(page.locator(".messagelist")).to_contain_text("created with 4 items")
    assert balances(lab)[1] == 18_000
    assert Batch.objects.get().overlap == 3


def test_an_upload_error_reads_plainly_and_the_chosen_file_is_kept(
    page: Any, lab: Requester, tmp_path: Path
) -> None:
    three = [{"id": k, "text": f"answer {k}"} for k in "abc"]
    items = [{"prompt": f"Rank these {i}", "responses": three} for i in range(2)]
    fill(page, name="Rankings", reward_msat="1000", overlap="1")  # pairwise by mistake
    page.get_by_label("File").set_input_files(write_items(tmp_path / "rankings.jsonl", items))
    page.get_by_role("button", name="Preview cost").click()
    expect(page.locator(".errornote")).to_have_text(
        "Line 1: a pairwise task needs exactly 2 responses (this one has 3)."
    )
    expect(page.locator("#kept-file")).to_contain_text("rankings.jsonl")

    # Another mistake, the file still not chosen again: still kept.
    page.get_by_label("Task type").select_option("ranking")
    page.get_by_label("Reward msat").fill("")
    page.get_by_role("button", name="Preview cost").click()
    expect(page.locator(".field-reward_msat .errorlist")).to_be_visible()
    expect(page.locator("#kept-file")).to_contain_text("rankings.jsonl")

    page.get_by_label("Reward msat").fill("1000")
    page.get_by_role("button", name="Preview cost").click()
    expect(page.locator("#cost-total")).to_have_text("2 sats")
    page.get_by_role("button", name="Create batch and reserve 2 sats").click()
    expect(page.locator(".messagelist")).to_contain_text("created with 2 items")
    batch = Batch.objects.get()
    assert (batch.task_type, batch.items.first().responses.count()) == ("ranking", 3)


def test_ranking_limits_read_as_a_range(page: Any, tmp_path: Path) -> None:
    items = [{"prompt": "One answer only", "responses": PAIR[:1]}]
    fill(page, name="Too few", reward_msat="1000", overlap="1", task_type="ranking")
    page.get_by_label("File").set_input_files(write_items(tmp_path / "few.jsonl", items))
    page.get_by_role("button", name="Preview cost").click()
    expect(page.locator(".errornote")).to_have_text(
        "Line 1: a ranking task needs 2 to 9 responses (this one has 1)."
    )


def test_the_preview_warns_when_the_balance_does_not_cover_the_cost(
    new_page: Callable[..., Any], tmp_path: Path
) -> None:
    requester_with_login("poor-lab")  # nothing deposited
    page = new_page(**LAPTOP)
    admin_login(page, "poor-lab")
    page.goto("/admin/labeling/batch/add/")
    fill(page, name="Unfunded", reward_msat="1000", overlap="1")
    items = [{"prompt": "q", "responses": PAIR}]
    page.get_by_label("File").set_input_files(write_items(tmp_path / "one.jsonl", items))
    page.get_by_role("button", name="Preview cost").click()
    expect(page.locator("#cost-uncovered")).to_have_text(
        "Your available balance, 0 sats, does not cover it: deposit more first."
    )
    page.get_by_role("button", name="Create batch and reserve 1 sat").click()
    expect(page.locator(".errornote").first).to_contain_text("balance")
    expect(page.locator("#kept-file")).to_contain_text("one.jsonl")  # still kept for later
    assert Batch.objects.count() == 0
