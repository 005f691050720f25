from io import StringIO

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db.models import Count
from django.urls import reverse
from rest_framework.test import APIClient

from labeling.models import Batch, Item, Requester, Worker
from payouts.models import LoginChallenge
from tests.conftest import client_for


def test_createrequester_prints_a_working_token_last(db):
    out = StringIO()
    call_command("createrequester", "acme", stdout=out)
    token = out.getvalue().strip().splitlines()[-1]
    requester = Requester.objects.get(user__username="acme")
    assert requester.user.is_staff and not requester.user.is_superuser
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {token}")
    response = client.post(reverse("batch-create"), {}, format="json")
    assert response.status_code == 400  # authenticated as a requester; the body is empty


def test_createrequester_refuses_a_taken_name(db):
    call_command("createrequester", "acme", stdout=StringIO())
    with pytest.raises(CommandError):
        call_command("createrequester", "acme", stdout=StringIO())


def test_loaddemo_creates_the_demo_batches_once(db):
    call_command("loaddemo", stdout=StringIO())
    call_command("loaddemo", stdout=StringIO())
    assert Batch.objects.count() == 24
    for task_type in ("pairwise", "ranking", "likert"):
        items = Item.objects.filter(batch__task_type=task_type)
        assert items.count() >= 8, task_type
    # Rankings worth the name: every ranking item has three or four answers.
    ranking = Item.objects.filter(batch__task_type="ranking").annotate(n=Count("responses"))
    assert {item.n for item in ranking} <= {3, 4} and {item.n for item in ranking} == {3, 4}


def test_a_newcomer_meets_every_task_type_in_the_first_five_demo_tasks(db, make_worker):
    call_command("loaddemo", stdout=StringIO())
    for _ in range(6):  # earlier labelers do not change what a newcomer meets first
        seen = []
        worker = make_worker()
        for _ in range(5):
            response = client_for(worker.user).get(reverse("task-next"))
            assert response.status_code == 200
            task = response.json()
            seen.append(task["task"]["type"])
            client_for(worker.user).post(
                reverse("assignment-submit", args=[task["assignment_id"]]),
                answer_for(task),
                format="json",
            )
        assert set(seen) == {"pairwise", "ranking", "likert"}, seen


def answer_for(task: dict) -> dict:
    ids = [response["id"] for response in task["task"]["responses"]]
    if task["task"]["type"] == "likert":
        return {"scores": dict.fromkeys(ids, 4)}
    return {"ranking": ids}


@pytest.mark.django_db(transaction=True)
def test_wallet_command_logs_in_over_http(live_server, settings, tmp_path):
    settings.PUBLIC_BASE_URL = live_server.url
    settings.WALLET_KEY_FILE = tmp_path / "wallet-key"
    offer = APIClient().post(reverse("lnurl-auth")).json()
    out = StringIO()
    call_command("wallet", "login", f"lightning:{offer['lnurl']}", stdout=out)
    worker = Worker.objects.get()
    assert worker.linking_key in out.getvalue()
    assert LoginChallenge.objects.get(k1=offer["k1"]).worker == worker
    with pytest.raises(CommandError, match="already used"):
        call_command("wallet", "login", offer["lnurl"], stdout=StringIO())
    with pytest.raises(CommandError, match="Not an LNURL"):
        call_command("wallet", "login", "LNURL1NOTREAL", stdout=StringIO())


def test_demo_wallet_button_only_with_debug_and_the_fake_node(client, db, settings, tmp_path):
    settings.WALLET_KEY_FILE = tmp_path / "wallet-key"
    k1 = client.post(reverse("lnurl-auth")).json()["k1"]
    settings.DEBUG = False
    assert client.post(reverse("demo-wallet"), {"k1": k1}).status_code == 404
    settings.DEBUG = True
    assert client.post(reverse("demo-wallet"), {"k1": "zz"}).status_code == 400
    assert client.post(reverse("demo-wallet"), {"k1": k1}).json() == {"status": "OK"}
    assert client.get(reverse("lnurl-auth-poll", args=[k1])).json()["status"] == "ok"
    assert client.get(reverse("work")).status_code == 200
