"""No 500 on the pages either: worker pages, the requester's admin and batch uploads answer
hostile input with a 4xx or a form error, and change nothing."""

import io
from typing import Any

import pytest
from django.test import Client, override_settings
from django.urls import reverse

from tests.conftest import client_for
from tests.marketplace.test_hostile_input import FORM, row_counts
from tests.payouts.factories import credit_worker

HOSTILE_VALUES = [b"%00", b"%C2%B2", b"9" * 5000, b"1e400", b"%ED%A0%80", b"%ff%zz%", b"-1"]
RESPONSES = b'"responses": [{"id": "a", "text": "x"}, {"id": "b", "text": "y"}]'
HOSTILE_FILES = {
    "deep.jsonl": b"[" * 100_000,
    "deep-field.jsonl": b'{"prompt": ' + b"[" * 500 + b"]" * 500 + b", " + RESPONSES + b"}",
    "surrogate.jsonl": b'{"prompt": "\\ud800", ' + RESPONSES + b"}",
    "surrogate-id.jsonl": b'{"prompt": "p", "responses": [{"id": "\\udfff", "text": "x"}]}',
    "nul.jsonl": b'{"prompt": "a\\u0000b", ' + RESPONSES + b"}",
    "huge.jsonl": b'{"prompt": "p", ' + RESPONSES + b', "gold": [' + b"9" * 5000 + b"]}",
    "inf.jsonl": b'{"prompt": "p", ' + RESPONSES + b', "gold": [1e400]}',
    "nul.csv": b"prompt,response_a,response_b\na\x00b,x,y\n",
    "binary.csv": bytes(range(256)) * 4,
    "binary.jsonl": bytes(range(256)) * 4,
}
ADMIN_QUERIES = [
    "q=%00",
    "q=%ED%A0%80",
    "batch__id__exact=%00",
    "batch__id__exact=" + "9" * 40,
    "status__exact=%00",
    "o=%ff",
    "p=%00",
    "p=" + "9" * 5000,
    "e=%",
    "flagged=%00",
]


@pytest.fixture
def worker_session(worker: Any) -> Client:
    client = Client()
    client.force_login(worker.user)
    return client


@pytest.fixture
def requester_session(requester: Any, make_batch: Any) -> Client:
    make_batch()
    client = Client()
    client.force_login(requester.user)
    return client


PAGES = {  # a worker signed in
    "/": 302,
    "/work/": 200,
    "/login/": 302,
    "/earnings/": 200,
    "/stats/": 200,
    "/leaderboard/": 200,
}


def test_worker_pages_refuse_hostile_forms_and_queries(worker_session: Client, worker: Any) -> None:
    credit_worker(worker, 5_000)
    before = row_counts()
    for value in HOSTILE_VALUES:
        for path, status in PAGES.items():
            response = worker_session.get(f"{path}?withdrawal={value.decode()}&next={value}")
            assert response.status_code == (400 if value == b"%00" else status), (path, value)
        for path, field in [
            ("/earnings/withdraw/", b"amount_sats"),
            ("/earnings/lightning-address/", b"address"),
            ("/stats/leaderboard/", b"listed"),
        ]:
            # Back to the earnings page, with the form's error as a message.
            response = worker_session.post(path, field + b"=" + value, content_type=FORM)
            assert response.status_code == 302, (path, value)
    assert row_counts() == before


@override_settings(DEBUG=True)
def test_demo_wallet_refuses_hostile_k1(worker_session: Client) -> None:
    for value in HOSTILE_VALUES:
        response = worker_session.post("/login/demo-wallet/", b"k1=" + value, content_type=FORM)
        assert response.status_code == 400, value
        assert response.json()["status"] == "ERROR"


@override_settings(DATA_UPLOAD_MAX_MEMORY_SIZE=1_000)
def test_oversized_page_posts_are_413(worker_session: Client) -> None:
    response = worker_session.post(
        "/earnings/withdraw/", b"amount_sats=" + b"1" * 2_000, content_type=FORM
    )
    assert response.status_code == 413


def test_admin_lists_refuse_hostile_queries(requester_session: Client) -> None:
    for model in ["batch", "item", "rating", "report"]:
        for query in ADMIN_QUERIES:
            response = requester_session.get(f"/admin/labeling/{model}/?{query}")
            if "%00" in query:
                assert response.status_code == 400, (model, query)
            else:  # the list, or Django's redirect to `?e=1` for a field it does not filter on
                assert response.status_code in (200, 302), (model, query)


def upload_form(name: str, content: bytes) -> dict[str, Any]:
    file = io.BytesIO(content)
    file.name = name
    return {
        "name": "hostile",
        "task_type": "pairwise",
        "instructions": "",
        "reward_msat": "1000",
        "overlap": "1",
        "review_mode": "auto",
        "auto_approve_trust": "0.5",
        "qualification_size": "0",
        "gold_overlap": "10",
        "file": file,
    }


@pytest.mark.parametrize("name", HOSTILE_FILES)
def test_hostile_batch_files_are_refused_in_the_admin(requester_session: Client, name: str) -> None:
    before = row_counts()
    response = requester_session.post(
        reverse("admin:labeling_batch_add"), upload_form(name, HOSTILE_FILES[name])
    )
    assert response.status_code == 200  # the form again, with the file's error
    assert response.context["form"].errors
    assert row_counts() == before


@pytest.mark.parametrize("name", HOSTILE_FILES)
def test_hostile_batch_files_are_refused_by_the_api(requester: Any, name: str) -> None:
    before = row_counts()
    response = client_for(requester.user).post(
        reverse("batch-create"), upload_form(name, HOSTILE_FILES[name]), format="multipart"
    )
    assert response.status_code == 400
    assert "file" in response.json()
    assert row_counts() == before


NUMBERS = ["9" * 5000, "9" * 30, "1e400", "nan", "a\x00b"]
HOSTILE_FIELDS = {
    "name": ["a\x00b", "9" * 5000],
    "instructions": ["a\x00b"],
    "reward_msat": NUMBERS,
    "overlap": NUMBERS,
    "auto_approve_trust": NUMBERS,
    "min_seconds": NUMBERS,
    "gold_overlap": NUMBERS,
}


def test_admin_upload_refuses_hostile_fields(requester_session: Client) -> None:
    before = row_counts()
    good = b'{"prompt": "p", ' + RESPONSES + b"}"
    for field, values in HOSTILE_FIELDS.items():
        for value in values:
            data = upload_form("ok.jsonl", good) | {field: value}
            response = requester_session.post(reverse("admin:labeling_batch_add"), data)
            assert response.status_code == 200, (field, value)
            assert response.context["form"].errors, (field, value)
    assert row_counts() == before
