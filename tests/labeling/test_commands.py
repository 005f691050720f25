from io import StringIO

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.urls import reverse
from rest_framework.test import APIClient

from labeling.models import Batch, Item, Requester, Worker
from payouts.models import LoginChallenge


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


def test_loaddemo_creates_a_demo_batch_once(db):
    call_command("loaddemo", stdout=StringIO())
    call_command("loaddemo", stdout=StringIO())
    pairwise = Batch.objects.get(task_type="pairwise")
    assert pairwise.items_count >= 20
    assert Item.objects.filter(batch=pairwise).count() == pairwise.items_count
    assert Batch.objects.count() == 3


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
