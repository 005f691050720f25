"""The closed loop: the owner's served policy answers prompts on a real engine process and the
pairs are posted as a pairwise batch in one call, which records the model and its run; every
refusal, and an engine that fails, leaves no batch and reserves nothing."""

import pytest
from django.contrib.admin.helpers import ACTION_CHECKBOX_NAME
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from labeling.models import Batch
from labeling.services import batches
from serving.services.closed_loop import MAX_PROMPTS
from tests.conftest import client_for
from tests.processes import free_port
from tests.serving.conftest import engine_process

PROMPTS = ["one two three", "four five", "six"]


def generate(client, model_id, **body):
    body = {"prompts": PROMPTS, "reward_msat": 1_000, "overlap": 2, **body}
    return client.post(reverse("served-model-batches", args=[model_id]), body, format="json")


def money(client):
    return client.get(reverse("requester")).json()


def nothing_created(client, before):
    assert not Batch.objects.filter(source_model__gt="").exists()
    assert money(client) == before


@pytest.fixture
def owner_client(requester):
    return client_for(requester.user)


def test_a_policy_answers_three_prompts_twice_and_posts_them_as_a_batch(
    publish, echo_engine, owner_client, requester, worker_client
):
    model = publish("echo", engine_url=echo_engine)
    before = money(owner_client)
    response = generate(owner_client, model.id, name="round 2")
    assert response.status_code == 201, response.content
    body = response.json()
    assert body == {"id": body["id"], "items_count": 3, "cost_msat": 6_000, "status": "open"}

    batch = Batch.objects.get(id=body["id"])
    assert (batch.name, batch.task_type, batch.requester_id) == (
        "round 2",
        "pairwise",
        requester.id,
    )
    assert (batch.source_model, batch.source_run_id) == ("echo", model.run_id)
    for item, prompt in zip(batch.items.order_by("position"), PROMPTS, strict=True):
        assert item.prompt == prompt
        assert [(r.key, r.text) for r in item.responses.order_by("position")] == [
            ("a", prompt),
            ("b", prompt),
        ]  # the echo engine answers with the prompt's words
    after = money(owner_client)
    assert after["reserved_msat"] - before["reserved_msat"] == 6_000
    assert before["balance_msat"] - after["balance_msat"] == 6_000  # generation itself is free

    detail = owner_client.get(reverse("batch-detail", args=[batch.id])).json()
    assert (detail["source_model"], detail["source_run_id"]) == ("echo", model.run_id)
    for other in Batch.objects.exclude(id=batch.id):  # the batch the policy was trained on
        batches.cancel_batch(batch=other)
    task = worker_client.get(reverse("task-next")).json()
    assert task["task"]["type"] == "pairwise"
    assert task["task"]["prompt"] in PROMPTS


def test_a_prompt_with_a_reference_is_the_policy_against_the_reference(
    publish, echo_engine, owner_client
):
    model = publish("echo", engine_url=echo_engine)
    prompts = [{"prompt": "say hi", "reference": "Hello there."}, "plain one"]
    response = generate(owner_client, model.id, prompts=prompts, max_tokens=8, temperature=0)
    assert response.status_code == 201, response.content
    first, second = Batch.objects.get(id=response.json()["id"]).items.order_by("position")
    assert [(r.key, r.text) for r in first.responses.order_by("position")] == [
        ("policy", "say hi"),
        ("reference", "Hello there."),
    ]
    assert [r.key for r in second.responses.order_by("position")] == ["a", "b"]


def test_another_requesters_model_is_404(publish, echo_engine, make_requester, owner_client):
    other = make_requester("other")
    model = publish("theirs", engine_url=echo_engine, owner=other)
    before = money(owner_client)
    response = generate(owner_client, model.id)
    assert response.status_code == 404
    nothing_created(owner_client, before)
    assert generate(owner_client, 999_999).status_code == 404


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"prompts": []}, "prompts"),
        ({"prompts": ["ok"] * (MAX_PROMPTS + 1)}, "prompts"),
        ({"prompts": "one prompt"}, "prompts"),
        ({"prompts": ["fine", "  "]}, "prompts"),
        ({"prompts": [{"prompt": "p", "reference": ""}]}, "prompts"),
        ({"prompts": [{"prompt": "p", "answer": "x"}]}, "prompts"),
        ({"prompts": ["a\x00b"]}, "detail"),
        ({"prompts": ["x" * 40_000]}, "prompts"),
        ({"max_tokens": 65}, "max_tokens"),
        ({"temperature": 3}, "temperature"),
        ({"overlap": 0}, "overlap"),
        ({"reward_msat": -1}, "reward_msat"),
    ],
)
def test_bad_input_is_400_and_creates_nothing(publish, echo_engine, owner_client, change, field):
    model = publish("echo", engine_url=echo_engine)  # max_tokens 64
    before = money(owner_client)
    response = generate(owner_client, model.id, **change)
    assert response.status_code == 400
    assert field in response.json()
    nothing_created(owner_client, before)


def test_a_reward_model_or_an_unpublished_policy_is_400(publish, echo_engine, owner_client):
    scorer = publish("scorer", engine_url=echo_engine, kind="rm")
    policy = publish("echo", engine_url=echo_engine)
    owner_client.delete(reverse("served-model-detail", args=[policy.id]))
    before = money(owner_client)
    for model in (scorer, policy):
        response = generate(owner_client, model.id)
        assert response.status_code == 400
        assert "served_model" in response.json()
    nothing_created(owner_client, before)


def test_a_balance_that_does_not_cover_the_batch_is_402_before_any_generation(
    publish, make_requester
):
    poor = make_requester("poor")
    model = publish("echo", engine_url=f"http://127.0.0.1:{free_port()}", owner=poor)
    client = client_for(poor.user)
    before = money(client)
    response = generate(client, model.id)  # the dead engine is never called
    assert response.status_code == 402
    assert "6000 msat" in response.json()["detail"]
    nothing_created(client, before)


def test_an_unreachable_engine_is_502_and_creates_nothing(publish, owner_client):
    model = publish("echo", engine_url=f"http://127.0.0.1:{free_port()}")
    before = money(owner_client)
    response = generate(owner_client, model.id)
    assert response.status_code == 502
    assert "nothing was created" in response.json()["detail"]
    nothing_created(owner_client, before)


def test_an_engine_that_dies_after_the_first_prompt_leaves_no_batch(publish, owner_client):
    # The first prompt is answered (2 tokens); the engine dies during the second one's.
    with engine_process("--engine", "echo", "--exit-after", "3") as url:
        model = publish("echo", engine_url=url)
        before = money(owner_client)
        response = generate(owner_client, model.id, prompts=["one", "two three four"])
    assert response.status_code == 502
    nothing_created(owner_client, before)


def test_an_engine_that_hangs_is_504_and_creates_nothing(publish, owner_client, settings):
    settings.SERVING_ENGINE_TIMEOUT_SECONDS = 1
    with engine_process("--engine", "echo", "--stall-after", "1") as url:
        model = publish("echo", engine_url=url)
        before = money(owner_client)
        response = generate(owner_client, model.id)
    assert response.status_code == 504
    nothing_created(owner_client, before)


def test_a_worker_or_anonymous_client_cannot_generate(publish, echo_engine, worker_client, client):
    model = publish("echo", engine_url=echo_engine)
    assert generate(worker_client, model.id).status_code == 403
    assert generate(client, model.id).status_code == 401
    assert not Batch.objects.filter(source_model__gt="").exists()


def test_the_owner_generates_a_batch_from_the_admin(publish, echo_engine, client, requester):
    model = publish("echo", engine_url=echo_engine)
    client.force_login(requester.user)
    change = client.get(reverse("admin:serving_servedmodel_change", args=[model.id]))
    url = reverse("admin:serving_servedmodel_generate_batch", args=[model.id])
    assert url in change.content.decode()
    picked = client.post(
        reverse("admin:serving_servedmodel_changelist"),
        {"action": "generate_batch", ACTION_CHECKBOX_NAME: [model.id]},
    )
    assert picked.status_code == 302 and picked["Location"] == url
    assert client.get(url).status_code == 200

    form = {"reward_msat": 1_000, "overlap": 1, "temperature": 1.0, "instructions": "Pick one."}
    empty = client.post(url, {**form, "prompts": "  \n"})
    assert empty.status_code == 200 and "non-empty list of prompts" in empty.content.decode()
    done = client.post(url, {**form, "prompts": "one two\nthree\n", "name": "from the admin"})
    batch = Batch.objects.get(source_model="echo")
    assert done.status_code == 302
    assert done["Location"] == reverse("admin:labeling_batch_change", args=[batch.id])
    assert (batch.name, batch.items_count, batch.source_run_id) == (
        "from the admin",
        2,
        model.run_id,
    )
    page = client.get(done["Location"]).content.decode()
    assert "echo" in page and str(model.run_id) in page


def test_a_jsonl_upload_gives_prompts_with_references(publish, echo_engine, client, requester):
    model = publish("echo", engine_url=echo_engine)
    client.force_login(requester.user)
    url = reverse("admin:serving_servedmodel_generate_batch", args=[model.id])
    lines = b'{"prompt": "say hi", "reference": "Hello."}\n"just this"\n'
    form = {"reward_msat": 1_000, "overlap": 1, "temperature": 1.0}
    bad = client.post(url, {**form, "file": SimpleUploadedFile("p.jsonl", b"{nope\n")})
    assert "Line 1 is not JSON." in bad.content.decode()
    done = client.post(url, {**form, "file": SimpleUploadedFile("p.jsonl", lines)})
    assert done.status_code == 302
    first = Batch.objects.get(source_model="echo").items.order_by("position").first()
    assert [r.text for r in first.responses.order_by("position")] == ["say hi", "Hello."]
