import json

from django.urls import reverse

from labeling.models import Rating
from tests.conftest import client_for


def rate(worker, answer_for):
    """One task for `worker`, answered by answer_for(task) -> submit body."""
    client = client_for(worker.user)
    task = client.get(reverse("task-next")).json()
    body = answer_for(task)
    response = client.post(
        reverse("assignment-submit", args=[task["assignment_id"]]), body, format="json"
    )
    assert response.status_code == 201
    return task


def lines(response):
    assert response.status_code == 200
    assert response["Content-Type"] == "application/x-ndjson"
    return [json.loads(line) for line in b"".join(response.streaming_content).splitlines()]


def without_confidence(row: dict) -> dict:
    assert 0.5 <= row.pop("confidence") <= 1
    return row


def test_trl_export_aggregates_votes_by_majority(make_batch, make_worker, requester_client):
    item = {
        "prompt": "Best fruit?",
        "responses": [{"id": "a", "text": "Apple"}, {"id": "b", "text": "Banana"}],
    }
    batch = make_batch("pairwise", items=[item], overlap=3)
    for preferred in ("a", "a", "b"):
        rate(make_worker(), lambda task, p=preferred: {"ranking": [p, "ab".replace(p, "")]})
    rows = lines(requester_client.get(reverse("batch-export", args=[batch.id]) + "?format=trl"))
    assert [without_confidence(row) for row in rows] == [
        {"prompt": "Best fruit?", "chosen": "Apple", "rejected": "Banana"}
    ]


def test_ranking_of_n_gives_all_pairs(make_batch, make_worker, requester_client):
    batch = make_batch(
        "ranking",
        items=[{"prompt": "q", "responses": [{"id": k, "text": k.upper()} for k in "wxyz"]}],
    )
    rate(make_worker(), lambda task: {"ranking": list("wxyz")})
    rows = lines(requester_client.get(reverse("batch-export", args=[batch.id])))
    assert len(rows) == 6
    assert {(r["chosen"], r["rejected"]) for r in rows} == {
        ("W", "X"),
        ("W", "Y"),
        ("W", "Z"),
        ("X", "Y"),
        ("X", "Z"),
        ("Y", "Z"),
    }


def test_likert_scores_become_pairs_and_ties_are_dropped(make_batch, make_worker, requester_client):
    batch = make_batch(
        "likert",
        items=[{"prompt": "q", "responses": [{"id": k, "text": k.upper()} for k in "abc"]}],
    )
    rate(make_worker(), lambda task: {"scores": {"a": 6, "b": 6, "c": 2}})
    rows = lines(requester_client.get(reverse("batch-export", args=[batch.id])))
    assert {(r["chosen"], r["rejected"]) for r in rows} == {("A", "C"), ("B", "C")}


def test_gold_items_and_rejected_ratings_are_left_out(make_batch, make_worker, requester_client):
    items = [
        {
            "prompt": "gold",
            "gold": ["a", "b"],
            "responses": [{"id": "a", "text": "A"}, {"id": "b", "text": "B"}],
        },
        {"prompt": "plain", "responses": [{"id": "a", "text": "A"}, {"id": "b", "text": "B"}]},
        {"prompt": "rejected", "responses": [{"id": "a", "text": "A"}, {"id": "b", "text": "B"}]},
    ]
    batch = make_batch("pairwise", items=items)
    worker = make_worker()
    for _ in items:
        rate(worker, lambda task: {"ranking": ["a", "b"]})
    Rating.objects.filter(item__prompt="rejected").update(status=Rating.Status.REJECTED)
    rows = lines(requester_client.get(reverse("batch-export", args=[batch.id])))
    assert [row["prompt"] for row in rows] == ["plain"]


def test_raw_export_has_every_approved_rating(make_batch, make_worker, requester_client):
    batch = make_batch("pairwise")
    worker = make_worker()
    task = rate(worker, lambda task: {"ranking": ["b", "a"], "rationale": "b is right"})
    rows = lines(requester_client.get(reverse("batch-export", args=[batch.id]) + "?format=raw"))
    assert len(rows) == 1
    row = rows[0]
    assert row["worker_id"] == worker.id
    assert row["ranking"] == ["b", "a"]
    assert row["rationale"] == "b is right"
    assert row["order_shown"] == [r["id"] for r in task["task"]["responses"]]
    assert row["shown_at"] <= row["answered_at"]


def test_unknown_export_format_is_400(make_batch, requester_client):
    batch = make_batch("pairwise")
    response = requester_client.get(reverse("batch-export", args=[batch.id]) + "?format=xml")
    assert response.status_code == 400


def test_a_details_flag_that_is_not_a_boolean_is_400(make_batch, requester_client):
    """Found by fuzzing: `details=null` used to be read as false without a word."""
    batch = make_batch("pairwise")
    response = requester_client.get(reverse("batch-export", args=[batch.id]) + "?details=null")
    assert response.status_code == 400
    assert response.json() == {"details": ["Use true or false."]}


def test_agreement_is_krippendorffs_alpha(make_batch, make_worker, requester_client):
    items = [
        {"prompt": f"q{i}", "responses": [{"id": "a", "text": "A"}, {"id": "b", "text": "B"}]}
        for i in range(3)
    ]
    batch = make_batch("pairwise", items=items, overlap=2)
    url = reverse("batch-detail", args=[batch.id])
    assert requester_client.get(url).json()["agreement"] is None
    # items 0 and 1: both raters pick a; item 2: b, a
    answers = iter([["a", "b"], ["a", "b"], ["b", "a"], ["a", "b"], ["a", "b"], ["a", "b"]])
    for worker in (make_worker(), make_worker()):
        for _ in items:
            rate(worker, lambda task: {"ranking": next(answers)})
    # coincidences: a-a 4, a-b 2 of n=6 values; alpha = 1 - (2/6) / (2*5*1/(6*5)) = 0
    assert requester_client.get(url).json()["agreement"] == 0.0
    Rating.objects.filter(item__position=2).update(ranking=["a", "b"])
    Rating.objects.filter(item__position=0).update(ranking=["b", "a"])
    assert requester_client.get(url).json()["agreement"] == 1.0


def test_details_add_margin_and_agreement(make_batch, make_worker, requester_client):
    batch = make_batch(
        "pairwise",
        items=[{"prompt": "q", "responses": [{"id": "a", "text": "A"}, {"id": "b", "text": "B"}]}],
        overlap=4,
    )
    for answer in (["a", "b"], ["a", "b"], ["a", "b"], ["b", "a"]):
        rate(make_worker(), lambda task, answer=answer: {"ranking": answer})
    url = reverse("batch-export", args=[batch.id])
    rows = lines(requester_client.get(url + "?details=1&method=majority"))
    assert [without_confidence(row) for row in rows] == [
        {"prompt": "q", "chosen": "A", "rejected": "B", "margin": 0.5, "agreement": 0.75}
    ]
    assert requester_client.get(url + "?method=vibes").status_code == 400


def test_export_service_is_plain_python(make_batch, make_worker):
    batch = make_batch(
        "pairwise",
        items=[{"prompt": "q", "responses": [{"id": "a", "text": "A"}, {"id": "b", "text": "B"}]}],
    )
    rate(make_worker(), lambda task: {"ranking": ["b", "a"]})
    from labeling.selectors import export_trl

    assert [without_confidence(row) for row in export_trl(batch=batch)] == [
        {"prompt": "q", "chosen": "B", "rejected": "A"}
    ]


def test_trl_pairs_carry_confidence_and_min_confidence_drops_the_unsure(
    make_batch, make_worker, requester_client
):
    prompts = ["s0", "s1", "s2", "s3", "split"]
    items = [
        {"prompt": p, "responses": [{"id": "a", "text": "A"}, {"id": "b", "text": "B"}]}
        for p in prompts
    ]
    batch = make_batch("pairwise", items=items, overlap=5)

    def pick(i: int, prompt: str) -> str:
        # Worker i slips once on a sure item; the split item goes 3-2.
        if prompt == "split":
            return "a" if i < 3 else "b"
        return "b" if prompt == f"s{i}" else "a"

    for i in range(5):
        worker = make_worker()
        for _ in prompts:
            rate(
                worker,
                lambda task, i=i: {
                    "ranking": sorted("ab", key=lambda k: k != pick(i, task["task"]["prompt"]))
                },
            )
    url = reverse("batch-export", args=[batch.id]) + "?format=trl"
    rows = {row["prompt"]: row for row in lines(requester_client.get(url))}
    assert min(rows[p]["confidence"] for p in prompts[:4]) > rows["split"]["confidence"] > 0.5
    cut = rows["split"]["confidence"] + 0.0001
    kept = lines(requester_client.get(f"{url}&min_confidence={cut}"))
    assert sorted(row["prompt"] for row in kept) == prompts[:4]
    for bad in ("2", "-0.1", "nan", "sure"):
        response = requester_client.get(f"{url}&min_confidence={bad}")
        assert response.status_code == 400
        assert "min_confidence" in response.json()
