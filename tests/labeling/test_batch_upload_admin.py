"""The admin upload through plain HTTP: a kept file belongs to its requester and expires,
bad input is a form error (never a 500), and the preview's cost is the batch's cost."""

from datetime import timedelta

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.urls import reverse
from django.utils import timezone
from hypothesis import given
from hypothesis import strategies as st

from labeling.models import Batch, StagedUpload

URL = reverse("admin:labeling_batch_add")
LINE = b'{"prompt": "p", "responses": [{"id": "a", "text": "x"}, {"id": "b", "text": "y"}]}\n'
FIELDS = {
    "name": "b",
    "task_type": "pairwise",
    "instructions": "",
    "reward_msat": "1000",
    "overlap": "2",
    "review_mode": "auto",
    "auto_approve_trust": "0.5",
    "qualification_size": "0",
    "gold_overlap": "10",
}


def admin_client(requester) -> Client:
    client = Client()
    client.force_login(requester.user)
    return client


def preview(client: Client, **extra) -> str:
    page = client.post(URL, {**FIELDS, "preview": "1", **extra})
    assert page.status_code == 200
    return page.content.decode()


def test_a_kept_file_serves_its_requester_only(requester, make_requester):
    html = preview(admin_client(requester), file=SimpleUploadedFile("a.jsonl", LINE * 3))
    staged = StagedUpload.objects.get()
    assert 'id="cost-total">6 sats<' in html and "a.jsonl" in html
    other = make_requester()
    html = preview(admin_client(other), staged_file=str(staged.id))
    assert "The file chosen earlier has expired" in html and 'id="cost-preview"' not in html
    for junk in ["x", "-1", "9" * 40]:
        assert "The file chosen earlier has expired" in preview(
            admin_client(requester), staged_file=junk
        )


def test_kept_files_expire_and_go_once_the_batch_is_created(requester):
    client = admin_client(requester)
    preview(client, file=SimpleUploadedFile("old.jsonl", LINE))
    old = StagedUpload.objects.get()
    StagedUpload.objects.filter(id=old.id).update(created_at=timezone.now() - timedelta(days=2))
    assert "expired" in preview(client, staged_file=str(old.id))
    preview(client, file=SimpleUploadedFile("new.jsonl", LINE * 2))
    new = StagedUpload.objects.get()  # the expired one was dropped
    page = client.post(
        URL, {**FIELDS, "staged_file": str(new.id), "create": "1", "confirm_cost_msat": "4000"}
    )
    assert page.status_code == 302
    assert Batch.objects.get().items_count == 2
    assert not StagedUpload.objects.exists()


def test_no_file_and_a_too_large_file_are_form_errors(requester, settings):
    client = admin_client(requester)
    assert "Choose a JSONL or CSV file." in preview(client)
    settings.BATCH_UPLOAD_MAX_BYTES = 100
    assert "larger than 100 bytes" in preview(client, file=SimpleUploadedFile("a.jsonl", LINE * 3))
    assert not StagedUpload.objects.exists() and not Batch.objects.exists()


@pytest.mark.parametrize(
    ("name", "content", "message"),
    [
        (
            "a.jsonl",
            LINE.replace(b"}]", b'}, {"id": "c", "text": "z"}]'),
            "Línea 1: una tarea pairwise necesita exactamente 2 respuestas (esta tiene 3).",
        ),
        ("a.csv", b"prompt,response_a\np,x\n", "Línea 1: faltan columnas: response_b."),
    ],
)
def test_an_upload_error_is_shown_in_spanish(requester, name, content, message):
    file = SimpleUploadedFile(name, content)
    page = admin_client(requester).post(
        URL, {**FIELDS, "preview": "1", "file": file}, HTTP_ACCEPT_LANGUAGE="es"
    )
    assert page.status_code == 200
    assert message in page.content.decode()
    assert not Batch.objects.exists()


@pytest.mark.parametrize("cost", ["", "3999", "abc"])
def test_creating_needs_the_cost_that_was_shown(requester, cost):
    client = admin_client(requester)
    file = SimpleUploadedFile("a.jsonl", LINE * 2)
    page = client.post(URL, {**FIELDS, "file": file, "create": "1", "confirm_cost_msat": cost})
    assert page.status_code == 200
    assert "The cost changed" in page.content.decode()
    assert not Batch.objects.exists()


@given(
    plain=st.integers(0, 50),
    gold=st.integers(0, 50),
    overlap=st.integers(1, 50),
    gold_overlap=st.integers(1, 1000),
    reward_msat=st.integers(0, 10**9),
    bonus_percent=st.integers(0, 100),
    pay_gold=st.booleans(),
)
def test_cost_terms_add_up_to_every_slot_at_the_highest_pay(
    plain, gold, overlap, gold_overlap, reward_msat, bonus_percent, pay_gold
):
    batch = Batch(
        items_count=plain + gold,
        gold_count=gold,
        overlap=overlap,
        gold_overlap=gold_overlap,
        reward_msat=reward_msat,
        bonus_percent=bonus_percent,
        pay_gold=pay_gold,
    )
    paid_slots = plain * overlap + (gold * gold_overlap if pay_gold else 0)
    assert batch.cost_msat == (reward_msat + reward_msat * bonus_percent // 100) * paid_slots
    assert sum(t.ratings for t in batch.cost_terms() if t.kind != "bonus") == batch.ratings_needed


def test_the_preview_speaks_the_requesters_language(requester):
    client = admin_client(requester)
    page = client.post(
        URL,
        {**FIELDS, "preview": "1", "file": SimpleUploadedFile("a.jsonl", LINE * 3)},
        HTTP_ACCEPT_LANGUAGE="es",
    ).content.decode()
    assert "Lo que costará este lote" in page
    assert "3 elementos \N{MULTIPLICATION SIGN} 2 evaluadores" in page
    assert "Crear el lote y reservar 6 sats" in page


def test_an_upload_with_dynamic_overlap_reserves_up_to_the_most_workers(requester, fund_requester):
    fund_requester(requester, 10**9)
    client = admin_client(requester)
    fields = {**FIELDS, "max_overlap": "5", "min_confidence": "0.95"}
    page = preview(client, file=SimpleUploadedFile("a.jsonl", LINE * 2), **fields)
    assert "2 items \N{MULTIPLICATION SIGN} 5 workers" in page
    cost = str(2 * 5 * 1000)
    staged = StagedUpload.objects.get()
    client.post(URL, {**fields, "staged_file": staged.id, "create": "1", "confirm_cost_msat": cost})
    batch = Batch.objects.get()
    assert (batch.overlap, batch.max_overlap, batch.min_confidence) == (2, 5, 0.95)
    assert batch.cost_msat == 10_000


def test_most_workers_below_the_overlap_is_a_form_error(requester):
    client = admin_client(requester)
    page = preview(client, file=SimpleUploadedFile("a.jsonl", LINE), max_overlap="1")
    assert "Max overlap must be between the overlap and" in page
    assert not Batch.objects.exists()
