"""The owner's admin: publish a succeeded run from the add form, unpublish and publish
again by action, and each model's calls, tokens and revenue per day with a chart."""

import json

from django.contrib.admin.helpers import ACTION_CHECKBOX_NAME
from django.urls import reverse

from serving.models import ServedModel
from tests.rewardmodel.run_helpers import finished_run
from tests.serving.conftest import chat_body
from tests.serving.test_bearer_calls import bearer


def test_a_requester_publishes_its_run_from_the_admin(
    client, requester, make_batch, make_requester
):
    run = finished_run(
        make_batch(), requester.user, status="succeeded", kind="ppo", artifact_path="/m"
    )
    other = make_requester()
    theirs = finished_run(
        make_batch(owner=other), other.user, status="succeeded", artifact_path="/m"
    )
    client.force_login(requester.user)
    add = reverse("admin:serving_servedmodel_add")
    form = {
        "run": run.id,
        "name": "helpful",
        "price_msat_per_1k_input": 5,
        "price_msat_per_1k_output": 50,
        "max_tokens": 128,
    }
    refused = client.post(add, {**form, "run": theirs.id})
    assert refused.status_code == 200 and not ServedModel.objects.exists()
    assert client.post(add, form).status_code == 302
    model = ServedModel.objects.get()
    assert (model.owner, model.kind, model.price_msat_per_1k_output) == (requester, "policy", 50)
    taken = client.post(add, form)
    assert "This name is taken." in taken.content.decode()


def test_unpublish_and_publish_again_by_action(client, requester, publish):
    model = publish("echo")
    client.force_login(requester.user)
    changelist = reverse("admin:serving_servedmodel_changelist")
    client.post(changelist, {"action": "unpublish", ACTION_CHECKBOX_NAME: [model.id]})
    assert client.get("/v1/models").json()["data"] == []
    client.post(changelist, {"action": "publish_again", ACTION_CHECKBOX_NAME: [model.id]})
    assert [m["id"] for m in client.get("/v1/models").json()["data"]] == ["echo"]


def test_the_owner_sees_usage_per_day_and_others_see_nothing(
    client, requester, echo_model, make_requester, fund_requester
):
    payer = make_requester("payer")
    fund_requester(payer, 1_000_000)
    for _ in range(3):
        bearer(payer.user).post(
            "/v1/chat/completions",
            json.dumps(chat_body(max_tokens=2)),
            content_type="application/json",
        )
    client.force_login(requester.user)
    page = client.get(reverse("admin:serving_servedmodel_change", args=[echo_model.id]))
    html = page.content.decode()
    assert page.status_code == 200 and "<svg" in html
    assert "<td>3</td><td>15</td><td>6</td>" in html  # calls, input and output tokens
    client.force_login(payer.user)
    assert (
        client.get(reverse("admin:serving_servedmodel_changelist")).context["cl"].result_count == 0
    )


def test_a_superuser_points_a_model_at_an_upstream(client, publish, echo_engine, django_user_model):
    model = publish("echo")
    admin = django_user_model.objects.create_superuser("root", password="x")
    client.force_login(admin)
    change = reverse("admin:serving_servedmodel_change", args=[model.id])
    response = client.post(change, {"engine_url": f"{echo_engine}/v1", "upstream_model": "echo"})
    assert response.status_code == 302, response.content
    model.refresh_from_db()
    assert (model.engine_managed, model.engine_url) == (False, f"{echo_engine}/v1")
