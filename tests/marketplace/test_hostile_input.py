"""No input a client can send is a 500 (API.md): every API route, called as anonymous, worker
and requester with hostile bodies, paths and query strings, answers a JSON 4xx (wallet
routes: an LNURL ERROR) and changes nothing."""

from collections.abc import Iterator
from typing import Any

import pytest
from django.test import Client, override_settings
from django.urls import URLPattern

from labeling.models import Batch, Rating, Report
from labeling.services.assignments import next_assignment_for
from marketplace.urls import api_v1
from payouts.models import Deposit, Withdrawal
from rewardmodel.models import TrainingRun
from rewardmodel.services.runs import start_run
from serving.models import ServedModel
from serving.services import publishing
from tests.conftest import client_for
from tests.payouts.factories import credit_worker, open_withdrawal
from tests.rewardmodel.run_helpers import finished_run

DEEP = b"[" * 100_000
FIELDS = [
    *("name", "task_type", "instructions", "reward_msat", "overlap", "items", "quality"),
    *("amount_msat", "address", "threshold_msat", "ranking", "scores", "rationale"),
    *("reason", "note", "rating_ids", "decision", "k1", "pr", "sig", "key"),
    *("kind", "batches", "model", "reward_model", "epochs", "algo", "steps", "lr", "batch_size"),
    *("prompts", "max_tokens", "temperature"),
]


def json_object(raw_value: bytes) -> bytes:
    """A JSON object with `raw_value` (JSON text) in every field an endpoint reads."""
    return b"{" + b",".join(b'"%s": %s' % (f.encode(), raw_value) for f in FIELDS) + b"}"


def form(value: bytes) -> bytes:
    return b"&".join(f.encode() + b"=" + value for f in FIELDS)


JSON = "application/json"
FORM = "application/x-www-form-urlencoded"
BODIES = {
    "deep array": (DEEP, JSON),
    "deep object": (b'{"a":' * 50_000, JSON),
    "deep in a field": (json_object(b"[" * 500 + b"]" * 500), JSON),
    "lone surrogate": (json_object(b'"\\ud800"'), JSON),
    "surrogate key": (b'{"\\udfff": 1, "items": [{"\\ud800": "x"}]}', JSON),
    "NUL": (json_object(b'"a\\u0000b"'), JSON),
    "1e400": (json_object(b"1e400"), JSON),
    "huge int": (json_object(b"9" * 5000), JSON),
    "NaN": (json_object(b"NaN"), JSON),
    "binary": (bytes(range(256)) * 4, JSON),
    "bad charset": (json_object(b'"\\ud800"'), "application/json; charset=bogus"),
    "form NUL": (form(b"%00"), FORM),
    "form bad percent": (form(b"%ff%zz%"), FORM),
    "form deep JSON": (form(b"%5B" * 5000), FORM),
    "form huge int": (form(b"9" * 5000), FORM),
    "binary form": (bytes(range(256)) + b"&" + form(b"%ff"), FORM),
    "too many fields": (form(b"%00") + b"".join(b"&f%d=1" % i for i in range(1_100)), FORM),
}
HOSTILE_SEGMENTS = ["%00", "%ff", "%25", "%ED%A0%80", "9" * 40, "%C2%B2"]
HOSTILE_QUERY = (
    "k1=%00&pr=%ff&tag=%&sig=%zz&key=%ED%A0%80&status=%00&format=%ff&next=%00"
    "&poll_key=%00&withdrawal=%C2%B2&amount_msat=" + "9" * 5000 + "&%=%&q=\x00"
)
WALLET_ROUTES = {"lnurl-auth-callback", "lnurl-withdraw-callback", "lnurl-withdraw"}
ROUTES = [p for p in api_v1 if isinstance(p, URLPattern)]


def row_counts() -> dict[str, int]:
    models = (Batch, Rating, Withdrawal, Deposit, Report, TrainingRun, ServedModel)
    return {m.__name__: m.objects.count() for m in models}


@pytest.fixture
def world(make_batch: Any, worker: Any, requester: Any) -> dict[str, Any]:
    """A batch, an open assignment, a deposit, an open withdrawal and a training run, so that
    ids resolve."""
    batch = make_batch()
    run = start_run(
        kind="rm", batches=[batch], config={"model": "tiny"}, started_by=requester.user, queue=False
    )
    assignment = next_assignment_for(worker=worker)
    credit_worker(worker, 5_000)
    withdrawal = open_withdrawal(worker, 2_000)
    run = finished_run(batch, requester.user, status="succeeded", artifact_path="/m")
    served = publishing.publish_model(
        user=requester.user, run_id=run.id, name="m", prices={"price_msat_per_response": 1}
    )
    return {
        "served_model_id": served.id,
        "batch_id": batch.id,
        "assignment_id": assignment.id,
        "deposit_id": Deposit.objects.filter(requester=requester).first().id,
        "withdrawal_id": withdrawal.id,
        "k1": withdrawal.k1,
        "run_id": run.id,
    }


@pytest.fixture
def clients(world: Any, worker: Any, requester: Any) -> dict[str, Client]:
    return {
        "anonymous": Client(),
        "worker": client_for(worker.user),
        "requester": client_for(requester.user),
    }


def paths(route: URLPattern, world: dict[str, Any]) -> Iterator[str]:
    """The route with real ids, then with each hostile segment in each of its parameters."""
    pattern = str(route.pattern)
    names = list(route.pattern.converters)

    def fill(values: dict[str, Any]) -> str:
        path = pattern
        for name, converter in route.pattern.converters.items():
            kind = {"IntConverter": "int", "StringConverter": "str"}[type(converter).__name__]
            path = path.replace(f"<{kind}:{name}>", str(values[name]))
        return "/api/v1/" + path

    yield fill(world)
    for name in names:
        for segment in HOSTILE_SEGMENTS:
            yield fill({**world, name: segment})


def check(route: URLPattern, response: Any, what: str) -> None:
    assert response.status_code < 500, what
    if route.name in WALLET_ROUTES:
        assert response.status_code == 200, what
        body = response.json()
        # An LNURL error; only the world's real k1 is offered its withdrawRequest.
        assert body.get("status") == "ERROR" or body.get("tag") == "withdrawRequest", what
    elif response.status_code >= 400:
        assert response["Content-Type"] == "application/json", what
        assert isinstance(response.json(), dict), what


@pytest.mark.django_db
@pytest.mark.parametrize("route", ROUTES, ids=lambda r: r.name)
def test_hostile_bodies_are_refused(route: URLPattern, world: Any, clients: Any) -> None:
    before = row_counts()
    path = next(paths(route, world))
    for who, client in clients.items():
        for body_name, (body, content_type) in BODIES.items():
            for method in ("POST", "PUT"):
                response = client.generic(method, path, body, content_type=content_type)
                check(route, response, f"{method} {path} as {who}: {body_name}")
    assert row_counts() == before


@pytest.mark.django_db
@pytest.mark.parametrize("route", ROUTES, ids=lambda r: r.name)
def test_hostile_paths_and_queries_are_refused(route: URLPattern, world: Any, clients: Any) -> None:
    before = row_counts()
    for path in paths(route, world):
        for who, client in clients.items():
            response = client.get(f"{path}?{HOSTILE_QUERY}")
            check(route, response, f"GET {path} as {who}")
            response = client.get(f"{path}?k1={world['k1']}&pr=%00lnbcrt1&tag=login&sig=00")
            check(route, response, f"GET {path} as {who} with a real k1")
    assert row_counts() == before


@pytest.mark.django_db
@override_settings(DATA_UPLOAD_MAX_MEMORY_SIZE=1_000)
@pytest.mark.parametrize("route", ROUTES, ids=lambda r: r.name)
def test_oversized_bodies_are_413(route: URLPattern, world: Any, clients: Any) -> None:
    before = row_counts()
    path = next(paths(route, world))
    response = clients["worker"].post(path, b'{"a": "' + b"x" * 2_000 + b'"}', content_type=JSON)
    check(route, response, path)
    if route.name not in WALLET_ROUTES:
        assert response.status_code == 413
        assert response.json() == {"detail": "The request body is too large."}
    assert row_counts() == before


@pytest.mark.django_db
def test_unknown_api_paths_are_json_404(client: Client) -> None:
    for path in ["/api/v1/nope/", "/api/v1/%ff/", "/api/%ED%A0%80", "/api/v2/"]:
        response = client.get(path)
        assert response.status_code == 404, path
        assert response.json() == {"detail": "Not found."}


@pytest.mark.django_db
def test_nul_in_a_path_or_query_is_400_on_any_database(client: Client) -> None:
    assert client.get("/api/v1/auth/lnurl/%00/").json() == {
        "detail": "NUL characters are not allowed."
    }
    assert client.get("/api/v1/me/?x=%00").status_code == 400
    wallet = client.get("/api/v1/lnurl/withdraw/callback/?k1=%00&pr=x")
    assert wallet.status_code == 200
    assert wallet.json() == {"status": "ERROR", "reason": "NUL characters are not allowed."}
