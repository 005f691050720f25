"""The official openai SDK, unchanged, against the site under gunicorn (base_url=<site>/v1):
Bearer with a requester's API token, and L402 through a custom Authorization header."""

import json
import urllib.request

import openai
import pytest
from rest_framework.authtoken.models import Token

from serving.models import ServedCall
from serving.services import publishing
from tests.conftest import needs_postgres
from tests.processes import wait_until
from tests.web_server import gunicorn_server

pytestmark = [needs_postgres, pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def site(echo_model):
    with gunicorn_server(env={"SERVING_RATE_LIMIT_CHALLENGES": ""}) as base_url:
        yield base_url


def sdk(site, **kwargs):
    return openai.OpenAI(base_url=f"{site}/v1", max_retries=0, timeout=30, **kwargs)


def test_bearer_chat_stream_and_models(site, make_requester, fund_requester):
    payer = make_requester("payer")
    fund_requester(payer, 1_000_000)
    client = sdk(site, api_key=Token.objects.get_or_create(user=payer.user)[0].key)
    assert [m.id for m in client.models.list()] == ["echo"]
    answer = client.chat.completions.create(
        model="echo",
        messages=[{"role": "user", "content": "red green blue"}],
        max_tokens=2,
        stop=["zzz"],
        temperature=0.5,
        top_p=0.9,
    )
    assert answer.choices[0].message.content == "red green"
    assert answer.choices[0].finish_reason == "length"
    assert answer.usage.completion_tokens == 2
    stream = client.chat.completions.create(
        model="echo",
        messages=[{"role": "user", "content": "red green blue"}],
        stream=True,
        n=2,
        stream_options={"include_usage": True},
    )
    chunks = list(stream)
    text = "".join(
        c.choices[0].delta.content or "" for c in chunks if c.choices and c.choices[0].index == 0
    )
    assert text == "red green blue"
    assert chunks[-1].usage.completion_tokens == 6
    # The site settles a call on its settling thread once the answer is out: soon after.
    assert wait_until(lambda: ServedCall.objects.filter(status="charged").count() == 2, 10)

    with pytest.raises(openai.BadRequestError):
        client.chat.completions.create(model="echo", messages=[], max_tokens=2)
    with pytest.raises(openai.NotFoundError):
        client.chat.completions.create(model="gone", messages=[{"role": "user", "content": "x"}])
    with pytest.raises(openai.AuthenticationError):
        sdk(site, api_key="wrong").chat.completions.create(
            model="echo", messages=[{"role": "user", "content": "x"}]
        )


def test_l402_through_a_custom_header(site, echo_model):
    # No credential yet (the SDK insists on a key; the header replaces it): a challenge.
    client = sdk(site, api_key="none", default_headers={"Authorization": ""})
    with pytest.raises(openai.APIStatusError) as challenge:
        client.chat.completions.create(model="echo", messages=[{"role": "user", "content": "a b"}])
    assert challenge.value.status_code == 402
    header = challenge.value.response.headers["www-authenticate"]
    macaroon = header.split('macaroon="')[1].split('"')[0]
    invoice = challenge.value.response.json()["invoice"]
    request = urllib.request.Request(
        f"{site}/api/v1/lightning/fake/pay/",
        data=json.dumps({"bolt11": invoice}).encode(),
        headers={"Content-Type": "application/json"},
    )
    preimage = json.loads(urllib.request.urlopen(request, timeout=10).read())["preimage"]
    paid = sdk(
        site, api_key="unused", default_headers={"Authorization": f"L402 {macaroon}:{preimage}"}
    )
    answer = paid.chat.completions.create(
        model="echo", messages=[{"role": "user", "content": "a b"}]
    )
    assert answer.choices[0].message.content == "a b"
    assert ServedCall.objects.get().token is not None
    for _ in range(4):  # the web processes now answer from their copies of the rows
        paid.chat.completions.create(model="echo", messages=[{"role": "user", "content": "a"}])
    publishing.unpublish_model(user=echo_model.owner.user, served_model_id=echo_model.id)
    for _ in range(4):  # whichever process answers, its copy is not the model any more
        with pytest.raises(openai.NotFoundError):
            paid.chat.completions.create(model="echo", messages=[{"role": "user", "content": "a"}])
    assert wait_until(lambda: ServedCall.objects.filter(status="charged").count() == 5, 10)
    assert ServedCall.objects.count() == 5
