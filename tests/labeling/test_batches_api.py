import io
import json

import pytest
from django.urls import reverse

from labeling.models import Batch, Item, Response
from tests.conftest import PAIRWISE_ITEMS, client_for

BATCH = {
    "name": "Helpfulness",
    "task_type": "pairwise",
    "instructions": "Pick the more helpful answer.",
    "reward_msat": 2_000,
    "overlap": 3,
    "items": PAIRWISE_ITEMS,
}


def test_create_batch_from_json(requester_client):
    response = requester_client.post(reverse("batch-create"), BATCH, format="json")
    assert response.status_code == 201
    body = response.json()
    assert body["items_count"] == len(PAIRWISE_ITEMS)
    assert body["cost_msat"] == 2_000 * 3 * len(PAIRWISE_ITEMS)
    assert body["status"] == "open"
    assert Item.objects.filter(batch_id=body["id"]).count() == len(PAIRWISE_ITEMS)
    assert Response.objects.filter(item__batch_id=body["id"]).count() == 2 * len(PAIRWISE_ITEMS)


def upload(client, name, content, **fields):
    data = {k: v for k, v in BATCH.items() if k != "items"} | fields
    data["file"] = io.BytesIO(content.encode() if isinstance(content, str) else content)
    data["file"].name = name
    return client.post(reverse("batch-create"), data, format="multipart")


def test_create_batch_from_jsonl_and_csv_files(requester_client):
    jsonl = "\n".join(json.dumps(item) for item in PAIRWISE_ITEMS) + "\n"
    response = upload(requester_client, "items.jsonl", jsonl)
    assert response.status_code == 201, response.json()
    assert response.json()["items_count"] == len(PAIRWISE_ITEMS)

    csv = 'prompt,response_a,response_b\n"Hi, there",Hello!,Go away\nWhat is 2+2?,4,5\n'
    response = upload(requester_client, "items.csv", csv)
    assert response.status_code == 201, response.json()
    item = Item.objects.get(batch_id=response.json()["id"], position=0)
    assert item.prompt == "Hi, there"
    assert [r.text for r in item.responses.all()] == ["Hello!", "Go away"]


@pytest.mark.parametrize(
    ("name", "content", "line"),
    [
        (
            "b.jsonl",
            '{"prompt": "a", "responses": [{"id": "a", "text": "x"}, {"id": "b", '
            '"text": "y"}]}\n\n{broken\n',
            3,
        ),
        ("b.jsonl", '{"prompt": "a", "responses": [{"id": "a", "text": "x"}]}\n', 1),
        (
            "b.jsonl",
            '{"prompt": "a", "responses": [{"id": "a", "text": "x"}, {"id": "b", '
            '"text": "y"}]}\n[1, 2]\n',
            2,
        ),
        (
            "b.jsonl",
            '{"prompt": "a", "responses": [{"id": "a", "text": "x"}, {"id": "a", "text": "y"}]}\n',
            1,
        ),
        (
            "b.jsonl",
            '{"prompt": "", "responses": [{"id": "a", "text": "x"}, {"id": "b", "text": "y"}]}\n',
            1,
        ),
        (
            "b.jsonl",
            '{"prompt": "a", "gold": ["a"], "responses": [{"id": "a", "text": "x"}, '
            '{"id": "b", "text": "y"}]}\n',
            1,
        ),
        ("b.csv", "prompt,response_a,response_b\nq,a,b\nq2,,b\n", 3),
        ("b.csv", "prompt,answer\nq,a\n", 1),
    ],
)
def test_bad_files_name_the_line_and_create_nothing(requester_client, name, content, line):
    response = upload(requester_client, name, content)
    assert response.status_code == 400
    assert f"Line {line}" in json.dumps(response.json())
    assert not Batch.objects.exists()


def test_non_utf8_and_empty_files_are_refused(requester_client):
    assert upload(requester_client, "b.jsonl", b"\xff\xfe\x00bad").status_code == 400
    assert upload(requester_client, "b.jsonl", "\n\n").status_code == 400
    assert not Batch.objects.exists()


def test_oversize_upload_is_413(requester_client, settings):
    settings.BATCH_UPLOAD_MAX_BYTES = 1000
    response = upload(requester_client, "b.jsonl", "x" * 2000)
    assert response.status_code == 413
    assert not Batch.objects.exists()


@pytest.mark.parametrize(
    "change",
    [
        {"task_type": "essay"},
        {"reward_msat": -1},
        {"reward_msat": "ten"},
        {"overlap": 0},
        {"overlap": 51},
        {"name": ""},
        {"items": []},
        {"items": "nope"},
        {"items": [{"prompt": "q", "responses": [{"id": "a", "text": "x"}] * 10}]},
        {
            "task_type": "ranking",
            "items": [
                {"prompt": "q", "responses": [{"id": str(i), "text": "x"} for i in range(10)]}
            ],
        },
        {"task_type": "likert", "items": [{"prompt": "q", "responses": []}]},
        {"items": [{"prompt": "q", "responses": [{"id": "a"}, {"id": "b", "text": "y"}]}]},
        {"items": [{"prompt": "q", "responses": [{"id": "a", "text": "x"}, "b"]}]},
    ],
)
def test_invalid_batches_get_400_and_change_nothing(requester_client, change):
    response = requester_client.post(reverse("batch-create"), BATCH | change, format="json")
    assert response.status_code == 400
    assert response.json()
    assert not Batch.objects.exists()


def test_items_and_file_together_are_refused(requester_client):
    response = upload(requester_client, "b.jsonl", "{}", items=json.dumps(PAIRWISE_ITEMS))
    assert response.status_code == 400


def test_workers_and_anonymous_cannot_create_batches(client, worker_client):
    assert worker_client.post(reverse("batch-create"), BATCH, format="json").status_code == 403
    # Anonymous: no credentials at all, so 401 (DRF's TokenAuthentication asks for a token).
    assert client.post(reverse("batch-create"), BATCH, format="json").status_code == 401
    assert not Batch.objects.exists()


def test_batch_progress_counts_ratings(make_batch, requester_client, worker_client):
    batch = make_batch("pairwise", overlap=2, reward_msat=1_000)
    task = worker_client.get(reverse("task-next")).json()
    worker_client.post(
        reverse("assignment-submit", args=[task["assignment_id"]]),
        {"ranking": ["a", "b"]},
        format="json",
    )
    body = requester_client.get(reverse("batch-detail", args=[batch.id])).json()
    assert body == {
        "id": batch.id,
        "name": batch.name,
        "status": "open",
        "task_type": "pairwise",
        "items_count": 5,
        "ratings_done": 1,
        "ratings_needed": 10,
        "spent_msat": 1_000,
        "agreement": None,
        "source_model": None,
        "source_run_id": None,
        "votes_per_item": None,
        "below_confidence": None,
    }


def test_a_requester_sees_only_its_own_batches(make_batch, make_requester):
    batch = make_batch("pairwise")
    other = client_for(make_requester().user)
    assert other.get(reverse("batch-detail", args=[batch.id])).status_code == 404
    assert other.get(reverse("batch-export", args=[batch.id])).status_code == 404
    assert other.get(reverse("batch-detail", args=[12345])).status_code == 404
