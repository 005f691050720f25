"""The admin: a requester sees its own runs, their errors and files, and starts runs
from the batch and run lists."""

import pytest
from django.contrib.admin.helpers import ACTION_CHECKBOX_NAME
from django.urls import reverse

from rewardmodel import tasks
from rewardmodel.models import TrainingRun
from tests.rewardmodel.run_helpers import finished_run

pytestmark = pytest.mark.usefixtures("runs_dir")


def test_a_requester_sees_only_its_own_runs(client, make_batch, make_requester, requester):
    mine = finished_run(make_batch(), requester.user, status="succeeded")
    other = make_requester()
    theirs = finished_run(make_batch(owner=other), other.user, status="succeeded")
    client.force_login(requester.user)
    page = client.get(reverse("admin:rewardmodel_trainingrun_changelist"))
    assert page.status_code == 200
    assert list(page.context["cl"].result_list) == [mine]
    assert client.get(reverse("admin:rewardmodel_trainingrun_change", args=[mine.id])).status_code
    assert (
        client.get(reverse("admin:rewardmodel_trainingrun_change", args=[theirs.id])).status_code
        == 302  # the admin's "does not exist" redirect
    )


def test_a_failed_run_shows_its_error_not_a_stack_trace(client, make_batch, requester):
    run = finished_run(
        make_batch(), requester.user, status="failed", error="model folder /x does not exist"
    )
    client.force_login(requester.user)
    page = client.get(reverse("admin:rewardmodel_trainingrun_change", args=[run.id]))
    assert page.status_code == 200
    assert "model folder /x does not exist" in page.content.decode()


def test_run_files_are_served_from_the_runs_own_folder_only(
    client, make_batch, make_requester, requester
):
    run = finished_run(make_batch(), requester.user, status="succeeded")
    (run.directory / "model").mkdir(parents=True)
    (run.directory / "model" / "curves.png").write_bytes(b"\x89PNG fake")
    (run.directory / "data").mkdir()
    (run.directory / "data" / "train.jsonl").write_text('{"prompt": "p"}\n')
    (run.directory / "secret.txt").write_text("no")
    client.force_login(requester.user)

    def get(name, run_id=run.id):
        return client.get(reverse("admin:rewardmodel_trainingrun_file", args=[run_id, name]))

    curves = get("curves.png")
    assert curves.status_code == 200
    assert curves["Content-Type"] == "image/png"
    assert b"".join(curves.streaming_content) == b"\x89PNG fake"
    assert "attachment" in get("train.jsonl")["Content-Disposition"]
    assert get("secret.txt").status_code == 404
    assert get("..").status_code == 404
    assert get("eval.jsonl").status_code == 404  # not written
    page = client.get(reverse("admin:rewardmodel_trainingrun_change", args=[run.id]))
    assert reverse("admin:rewardmodel_trainingrun_file", args=[run.id, "curves.png"]) in (
        page.content.decode()
    )
    client.force_login(make_requester().user)
    assert get("curves.png").status_code == 404  # not their run


def test_the_batch_action_refuses_a_bad_config_then_queues_a_run(
    client, make_batch, requester, monkeypatch, django_capture_on_commit_callbacks
):
    sent = []
    monkeypatch.setattr(tasks.execute_run, "apply_async", lambda kwargs, **_: sent.append(kwargs))
    batch = make_batch()
    client.force_login(requester.user)
    url = reverse("admin:labeling_batch_changelist")
    chosen = {"action": "train_reward_model", ACTION_CHECKBOX_NAME: [batch.id]}
    form = client.post(url, chosen)
    assert form.status_code == 200
    assert "Train a reward model" in form.content.decode()
    assert form.context["form"]["model"].value() == "tiny"

    fields = {"model": "tiny", "epochs": "-1", "lr": "0.001", "batch_size": "8"}
    refused = client.post(url, chosen | fields | {"max_length": "256", "start_run": "1"})
    assert refused.status_code == 200
    assert "epochs must be a number above 0" in refused.content.decode()

    with django_capture_on_commit_callbacks(execute=True):
        done = client.post(
            url, chosen | fields | {"epochs": "2", "max_length": "256", "start_run": "1"}
        )
    run = TrainingRun.objects.get()
    assert done.status_code == 302
    assert done["Location"] == reverse("admin:rewardmodel_trainingrun_change", args=[run.id])
    assert (run.status, run.started_by, list(run.batches.all())) == (
        "queued",
        requester.user,
        [batch],
    )
    assert run.config["epochs"] == 2.0
    assert sent == [{"run_id": run.id}]


def test_the_policy_action_starts_a_run_on_a_reward_model_run(
    client, make_batch, requester, monkeypatch, django_capture_on_commit_callbacks
):
    monkeypatch.setattr(tasks.execute_run, "apply_async", lambda kwargs, **_: None)
    batch = make_batch()
    rm_run = finished_run(batch, requester.user, status="succeeded", artifact_path="/rm")
    client.force_login(requester.user)
    url = reverse("admin:rewardmodel_trainingrun_changelist")
    chosen = {"action": "tune_policy", ACTION_CHECKBOX_NAME: [rm_run.id]}
    assert "Tune a policy" in client.post(url, chosen).content.decode()
    fields = {"policy": "tiny", "algo": "grpo", "steps": "3", "batch_size": "8"}
    fields |= {"max_new_tokens": "16", "lr": "1e-6", "kl_coef": "0.05", "start_run": "1"}
    with django_capture_on_commit_callbacks(execute=True):
        assert client.post(url, chosen | fields).status_code == 302
    run = TrainingRun.objects.get(kind="ppo")
    assert run.config["reward_model"] == rm_run.id
    assert (run.config["algo"], run.config["steps"]) == ("grpo", 3)
    assert list(run.batches.all()) == [batch]
