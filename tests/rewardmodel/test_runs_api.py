"""Training runs over the API: a requester starts runs on its own batches, follows them to the
end, and sees nobody else's; every bad request is a 400 that starts nothing."""

import pytest
from django.urls import reverse

from rewardmodel.models import TrainingRun
from tests.conftest import client_for
from tests.rewardmodel.run_helpers import finished_run

pytestmark = pytest.mark.usefixtures("runs_dir")


def post_run(api, **body):
    return api.post(reverse("runs"), body, format="json")


def test_a_reward_run_on_own_batches_is_queued_and_listed(requester, make_batch):
    api = client_for(requester.user)
    batches = [make_batch().id, make_batch().id]
    response = post_run(api, kind="reward", batches=batches, model="tiny", epochs=2)
    assert response.status_code == 201, response.content
    body = response.json()
    assert body == {"id": body["id"], "kind": "reward", "status": "queued", "progress": 0.0}

    detail = api.get(reverse("run-detail", args=[body["id"]])).json()
    assert detail["status"] == "queued"
    assert detail["metrics"] == {} and detail["error"] is None
    assert sorted(detail["batches"]) == sorted(batches)
    assert detail["config"]["epochs"] == 2.0 and detail["config"]["model"] == "tiny"
    run = TrainingRun.objects.get(id=body["id"])
    assert (run.started_by, run.queued_at is not None) == (requester.user, True)

    listed = api.get(reverse("runs")).json()["results"]
    assert [each["id"] for each in listed] == [body["id"]]


def test_a_policy_run_tunes_against_an_own_succeeded_reward_run(requester, make_batch):
    batch = make_batch()
    reward = finished_run(batch, requester.user, status="succeeded")
    api = client_for(requester.user)
    response = post_run(
        api, kind="policy", batches=[batch.id], model="tiny", reward_model=reward.id, algo="grpo"
    )
    assert response.status_code == 201, response.content
    run = TrainingRun.objects.get(id=response.json()["id"])
    assert response.json()["kind"] == "policy"
    assert (run.kind, run.config["reward_model"], run.config["algo"]) == ("ppo", reward.id, "grpo")


def test_other_requesters_batches_and_runs_are_not_found(requester, make_batch, make_requester):
    other = make_requester()
    theirs = make_batch(owner=other)
    their_run = finished_run(theirs, other.user, status="succeeded")
    api = client_for(requester.user)
    mine = make_batch()

    refused = post_run(api, kind="reward", batches=[mine.id, theirs.id], model="tiny")
    assert refused.status_code == 404
    assert refused.json() == {"detail": f"No batch {theirs.id} of yours."}
    assert post_run(api, kind="reward", batches=[999_999], model="tiny").status_code == 404
    policy = post_run(
        api, kind="policy", batches=[mine.id], model="tiny", reward_model=their_run.id
    )
    assert policy.status_code == 404
    assert api.get(reverse("run-detail", args=[their_run.id])).status_code == 404
    assert api.get(reverse("runs")).json() == {"results": []}
    assert TrainingRun.objects.count() == 1  # theirs, nothing started


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"kind": "dpo"}, "kind"),
        ({"kind": "rm"}, "kind"),
        ({"batches": []}, "batches"),
        ({"batches": "1"}, "batches"),
        ({"batches": [0]}, "batches"),
        ({"model": ""}, "model"),
        ({"epochs": "many"}, "epochs"),
        ({"algo": "ppo"}, "algo"),
        ({"reward_model": 1}, "reward_model"),
        ({"kind": "policy"}, "reward_model"),
        ({"batch_size": 0}, "batch_size"),
    ],
)
def test_malformed_requests_name_the_field_and_start_nothing(requester, make_batch, body, field):
    request = {"kind": "reward", "batches": [make_batch().id], "model": "tiny"} | body
    response = post_run(client_for(requester.user), **request)
    assert response.status_code == 400
    assert field in response.json()
    assert not TrainingRun.objects.exists()


@pytest.mark.parametrize("number", ["1e400", "NaN", "Infinity"])
def test_numbers_json_cannot_carry_are_refused(requester, make_batch, number):
    batch = make_batch()
    body = f'{{"kind": "reward", "batches": [{batch.id}], "model": "tiny", "epochs": {number}}}'
    api = client_for(requester.user)
    response = api.post(reverse("runs"), body, content_type="application/json")
    assert response.status_code == 400
    assert not TrainingRun.objects.exists()


@pytest.mark.parametrize(
    ("body", "detail"),
    [
        ({"model": "/etc"}, "model must be one of the base models this site offers: tiny"),
        ({"model": "gpt-4"}, "model must be one of the base models this site offers: tiny"),
        ({"epochs": 0}, "epochs must be a number above 0, at most 100 (got 0.0)."),
        ({"epochs": 101}, "epochs must be a number above 0, at most 100 (got 101.0)."),
        ({"lr": 2}, "lr must be a number between 0 and 1 (got 2.0)."),
    ],
)
def test_a_config_the_trainer_refuses_is_a_readable_400(requester, make_batch, body, detail):
    request = {"kind": "reward", "batches": [make_batch().id], "model": "tiny"} | body
    response = post_run(client_for(requester.user), **request)
    assert response.status_code == 400
    assert response.json()["detail"].startswith(detail)
    assert not TrainingRun.objects.exists()


@pytest.mark.parametrize(
    ("fields", "detail"),
    [
        ({"status": "running"}, "Reward model run {id} has not succeeded (running)."),
        ({"kind": "ppo"}, "There is no reward model run {id}."),
    ],
)
def test_a_policy_run_needs_a_succeeded_reward_run(requester, make_batch, fields, detail):
    batch = make_batch()
    run = finished_run(batch, requester.user, **fields)
    response = post_run(
        client_for(requester.user),
        kind="policy",
        batches=[batch.id],
        model="tiny",
        reward_model=run.id,
    )
    assert response.status_code == 400
    assert response.json() == {"detail": detail.format(id=run.id)}
    assert TrainingRun.objects.count() == 1


def test_only_requesters_use_runs(client, worker, make_batch):
    body = {"kind": "reward", "batches": [make_batch().id], "model": "tiny"}
    assert client.post(reverse("runs"), body, content_type="application/json").status_code == 401
    assert post_run(client_for(worker.user), **body).status_code == 403
    assert client_for(worker.user).get(reverse("runs")).status_code == 403
    assert not TrainingRun.objects.exists()


@pytest.mark.train
def test_a_tiny_reward_run_and_a_policy_run_train_to_succeeded_through_the_api(
    requester, rated_batch, django_capture_on_commit_callbacks
):
    """Without a broker the job runs in-process once the run is committed, as under
    `make run`; with one, the training worker runs it (test_training_worker.py)."""
    api = client_for(requester.user)
    batch = rated_batch(12, overlap=1)
    with django_capture_on_commit_callbacks(execute=True):
        started = post_run(api, kind="reward", batches=[batch.id], model="tiny", epochs=1)
    assert started.status_code == 201, started.content
    reward = api.get(reverse("run-detail", args=[started.json()["id"]])).json()
    assert (reward["status"], reward["progress"], reward["error"]) == ("succeeded", 1.0, None)
    assert 0 <= reward["metrics"]["eval_accuracy"] <= 1

    with django_capture_on_commit_callbacks(execute=True):
        started = post_run(
            api,
            kind="policy",
            batches=[batch.id],
            model="tiny",
            reward_model=reward["id"],
            steps=1,
            batch_size=4,
        )
    assert started.status_code == 201, started.content
    policy = api.get(reverse("run-detail", args=[started.json()["id"]])).json()
    assert policy["status"] == "succeeded", policy["error"]
    assert {"reward_before", "reward_after"} <= policy["metrics"].keys()
