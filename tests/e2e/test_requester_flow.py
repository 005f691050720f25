"""A requester in the admin: upload a batch file, watch progress, export TRL for training."""

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import expect

from labeling.models import Batch, Requester
from labeling.services import requesters as requester_services
from tests.conftest import client_for

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

PASSWORD = "correct horse battery staple"
PAIRS = [
    ("What is the capital of France?", "Paris.", "Lyon."),
    ("Is 17 a prime number?", "Yes: its only divisors are 1 and 17.", "No, 17 = 3 x 6."),
    ("Translate 'gracias' to English.", "Thank you.", "Please."),
    ("How many legs has a spider?", "Eight.", "Six."),
]


def jsonl_file(tmp_path: Path) -> Path:
    path = tmp_path / "pairs.jsonl"
    lines = [
        json.dumps(
            {"prompt": prompt, "responses": [{"id": "a", "text": a}, {"id": "b", "text": b}]}
        )
        for prompt, a, b in PAIRS
    ]
    path.write_text("\n".join(lines) + "\n")
    return path


def requester_with_login(username: str, fund: Callable[..., Any] | None = None) -> Requester:
    requester, _ = requester_services.create_requester(username=username, password=PASSWORD)
    if fund is not None:
        fund(requester, 1_000_000)
    return requester


def admin_login(page: Any, username: str) -> None:
    page.goto("/admin/")
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    expect(page.get_by_role("link", name="Batches")).to_be_visible()


def upload(page: Any, path: Path, *, name: str, task_type: str = "pairwise") -> None:
    page.get_by_role("link", name="Batches").click()
    page.get_by_role("link", name="Add batch").click()
    page.get_by_label("Name").fill(name)
    page.get_by_label("Task type").select_option(task_type)
    page.get_by_label("Instructions").fill("Pick the **correct** answer.")
    page.get_by_label("Reward msat").fill("2000")
    page.get_by_label("Overlap").fill("2")
    page.get_by_label("File").set_input_files(path)
    page.get_by_role("button", name="Preview cost").click()
    # The cost preview, then the confirmation; or the form again with what is wrong.
    page.locator(".errornote, #create-batch").first.wait_for()
    if page.locator("#create-batch").count():
        page.locator("#create-batch").click()


def rate(user: Any, *, limit: int, best: str = "a") -> None:
    """One worker rates up to `limit` pairwise tasks through the API, putting `best` first."""
    client = client_for(user)
    for _ in range(limit):
        response = client.get("/api/v1/tasks/next/")
        if response.status_code == 204:
            return
        task = response.json()
        ids = [r["id"] for r in task["task"]["responses"]]
        ranking = [best, *[i for i in ids if i != best]]
        submitted = client.post(
            f"/api/v1/assignments/{task['assignment_id']}/submit/",
            {"ranking": ranking},
            format="json",
        )
        assert submitted.status_code == 201, submitted.content


def test_requester_uploads_jsonl_watches_progress_and_exports_trl(
    desktop: Any,
    fund_requester: Callable[..., Any],
    make_worker: Callable[..., Any],
    tmp_path: Path,
) -> None:
    requester_with_login("acme-lab", fund_requester)
    page = desktop
    admin_login(page, "acme-lab")
    upload(page, jsonl_file(tmp_path), name="Capitals and primes")

    expect(page.locator(".messagelist")).to_contain_text("created with 4 items")
    row = page.locator("#result_list tbody tr", has_text="Capitals and primes")
    expect(row.locator("progress")).to_have_attribute("value", "0")
    expect(row.locator("progress")).to_have_attribute("max", "8")  # 4 items, overlap 2
    batch = Batch.objects.get(name="Capitals and primes")
    assert (batch.items_count, batch.overlap, batch.reward_msat) == (4, 2, 2000)
    # The test's workers answer at once: keep the quality rules from flagging them too fast.
    Batch.objects.filter(id=batch.id).update(min_seconds=0)

    # Two workers rate: one all four items, the other two of them.
    rate(make_worker().user, limit=4)
    rate(make_worker().user, limit=2)
    assert batch.ratings.count() == 6
    page.reload()
    row = page.locator("#result_list tbody tr", has_text="Capitals and primes")
    expect(row.locator("progress")).to_have_attribute("value", "6")
    expect(row).to_contain_text("6 / 8")

    # The TRL export, downloaded with the admin's session, reads as a preference dataset.
    with page.expect_download() as download:
        row.get_by_role("link", name="TRL JSONL").click()
    path = tmp_path / "export.jsonl"
    download.value.save_as(path)

    import datasets

    data = datasets.load_dataset("json", data_files=str(path), cache_dir=str(tmp_path / "hf"))
    train = data["train"]
    assert train.column_names == ["prompt", "chosen", "rejected", "confidence"]
    assert all(0.5 <= confidence <= 1 for confidence in train["confidence"])
    assert sorted(train["prompt"]) == sorted(prompt for prompt, _, _ in PAIRS)
    assert sorted(train["chosen"]) == sorted(a for _, a, _ in PAIRS)
    assert sorted(train["rejected"]) == sorted(b for _, _, b in PAIRS)


def test_requester_uploads_csv(
    desktop: Any, fund_requester: Callable[..., Any], tmp_path: Path
) -> None:
    requester = requester_with_login("csv-lab", fund_requester)
    path = tmp_path / "pairs.csv"
    path.write_text(
        "prompt,response_a,response_b\n"
        '"Say hello, politely.","Hello, nice to meet you.",yo\n'
        '"Two lines:\nfirst, then second",first,second\n'
        "What is 2+2?,4,5\n"
    )
    page = desktop
    admin_login(page, "csv-lab")
    upload(page, path, name="From a spreadsheet")

    expect(page.locator(".messagelist")).to_contain_text("created with 3 items")
    row = page.locator("#result_list tbody tr", has_text="From a spreadsheet")
    expect(row.locator("progress")).to_have_attribute("max", "6")
    batch = Batch.objects.get(requester=requester)
    prompts = list(batch.items.order_by("position").values_list("prompt", flat=True))
    assert prompts == ["Say hello, politely.", "Two lines:\nfirst, then second", "What is 2+2?"]
    first = batch.items.get(position=0)
    assert dict(first.responses.values_list("key", "text")) == {
        "a": "Hello, nice to meet you.",
        "b": "yo",
    }

    # The requester can pause or cancel the batch, but not mark it completed by hand.
    row.get_by_role("link", name="From a spreadsheet").click()
    status = page.get_by_label("Status")
    expect(status.locator("option")).to_have_text(["Open", "Paused", "Cancelled"])
    status.select_option("paused")
    page.get_by_role("button", name="Save", exact=True).click()
    expect(page.locator(".messagelist")).to_contain_text("was changed successfully")
    batch.refresh_from_db()
    assert batch.status == Batch.Status.PAUSED
    balance = client_for(requester.user).get("/api/v1/requester/").json()
    assert (balance["balance_msat"], balance["reserved_msat"]) == (1_000_000 - 12_000, 12_000)

    # Cancelling releases the reservation; a cancelled batch cannot be reopened.
    row = page.locator("#result_list tbody tr", has_text="From a spreadsheet")
    row.get_by_role("link", name="From a spreadsheet").click()
    page.get_by_label("Status").select_option("cancelled")
    page.get_by_role("button", name="Save", exact=True).click()
    expect(page.locator(".messagelist")).to_contain_text("was changed successfully")
    balance = client_for(requester.user).get("/api/v1/requester/").json()
    assert (balance["balance_msat"], balance["reserved_msat"]) == (1_000_000, 0)
    page.locator("#result_list").get_by_role("link", name="From a spreadsheet").click()
    expect(page.locator(".field-status .readonly")).to_have_text("Cancelled")


def test_bad_upload_names_its_line_and_requesters_see_only_their_own(
    desktop: Any,
    new_page: Callable[..., Any],
    fund_requester: Callable[..., Any],
    make_batch: Callable[..., Any],
    tmp_path: Path,
) -> None:
    first = requester_with_login("first-lab", fund_requester)
    requester_with_login("second-lab")  # not funded
    theirs = make_batch("pairwise", owner=first)
    theirs.name = "First lab's secret batch"
    theirs.save(update_fields=["name"])

    page = desktop
    admin_login(page, "second-lab")
    expect(page.get_by_role("link", name="Batches")).to_be_visible()
    page.get_by_role("link", name="Batches").click()
    expect(page.locator("#content")).not_to_contain_text("First lab's secret batch")
    expect(page.locator("#changelist")).to_contain_text("0 batches")
    response = page.goto(f"/api/v1/batches/{theirs.id}/export/?format=trl")
    assert response.status == 404
    page.goto(f"/admin/labeling/batch/{theirs.id}/change/")  # the admin says: no such batch
    expect(page.locator(".messagelist")).to_contain_text(f"Batch with ID “{theirs.id}” doesn")

    bad = tmp_path / "bad.jsonl"
    good = json.dumps(
        {"prompt": "p", "responses": [{"id": "a", "text": "x"}, {"id": "b", "text": "y"}]}
    )
    bad.write_text(f"{good}\n{good}\n{{'prompt': 'single quotes'}}\n{good}\n")
    page.goto("/admin/")
    upload(page, bad, name="Broken file")
    expect(page.locator(".errornote")).to_contain_text("Line 3")
    page.goto("/admin/")
    upload(page, jsonl_file(tmp_path), name="Unfunded")
    expect(page.locator(".errornote")).to_contain_text("balance")
    assert Batch.objects.count() == 1  # only the first lab's

    # The first lab does see its batch, with its export link.
    mine = new_page(viewport={"width": 1280, "height": 800})
    admin_login(mine, "first-lab")
    mine.get_by_role("link", name="Batches").click()
    expect(mine.locator("#result_list")).to_contain_text("First lab's secret batch")
