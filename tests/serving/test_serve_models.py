"""`manage.py serve_models` runs an engine process per published model (transformers on the
run's files, tiny models built offline) and the gateway reaches each through it."""

import os
import subprocess
import sys

import pytest
from django.conf import settings

from serving.models import ServedCall, ServedModel
from serving.services import publishing
from tests import celery_worker
from tests.conftest import needs_postgres
from tests.processes import stop_group, wait_until
from tests.rewardmodel.conftest import tiny_model_folders  # noqa: F401  # a fixture
from tests.rewardmodel.run_helpers import finished_run
from tests.serving.test_bearer_calls import bearer


@needs_postgres
@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_serve_models_runs_tiny_transformers_engines_behind_the_gateway(
    requester,
    make_batch,
    make_requester,
    fund_requester,
    tiny_model_folders,  # noqa: F811
):
    models = {}
    for kind, role, name in (("ppo", "policy", "tiny-chat"), ("rm", "reward", "tiny-rm")):
        run = finished_run(
            make_batch(),
            requester.user,
            status="succeeded",
            kind=kind,
            artifact_path=tiny_model_folders[role],
        )
        prices = (
            {"price_msat_per_response": 1_000}
            if kind == "rm"
            else {"price_msat_per_1k_input": 1_000, "price_msat_per_1k_output": 2_000}
        )
        models[role] = publishing.publish_model(
            user=requester.user, run_id=run.id, name=name, prices=prices, max_tokens=16
        )
    process = subprocess.Popen(
        [sys.executable, "manage.py", "serve_models", "--port", "0", "--poll", "0.3"],
        cwd=celery_worker.ROOT,
        env={
            **os.environ,
            "DATABASE_URL": celery_worker.test_database_url(),
            "SECRET_KEY": settings.SECRET_KEY,
            "HF_HUB_OFFLINE": "1",
        },
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    try:
        ready = wait_until(
            lambda: ServedModel.objects.exclude(engine_url="").count() == 2, timeout=120
        )
        assert ready, "the engines did not start"
        payer = make_requester("payer")
        fund_requester(payer, 1_000_000)
        client = bearer(payer.user)
        body = {
            "model": "tiny-chat",
            "messages": [{"role": "user", "content": "the sun"}],
            "max_tokens": 6,
            "temperature": 0,
        }
        answer = client.post("/v1/chat/completions", body, format="json")
        assert answer.status_code == 200, answer.content
        usage = answer.json()["usage"]
        assert 1 <= usage["completion_tokens"] <= 6 and usage["prompt_tokens"] > 0
        again = client.post("/v1/chat/completions", body, format="json").json()
        assert again["choices"][0]["message"] == answer.json()["choices"][0]["message"]
        scored = client.post(
            "/v1/rewards",
            {"model": "tiny-rm", "prompt": "p", "responses": ["a", "b c"]},
            format="json",
        )
        assert scored.status_code == 200 and len(scored.json()["scores"]) == 2
        assert ServedCall.objects.filter(status="charged").count() == 3

        publishing.unpublish_model(user=requester.user, served_model_id=models["reward"].id)
        assert wait_until(lambda: not ServedModel.objects.get(name="tiny-rm").engine_url, 30)
    finally:
        stop_group(process)
    assert wait_until(lambda: not ServedModel.objects.exclude(engine_url="").exists(), 10)
