"""The OpenAPI schema cannot drift: every operation it documents is called for real, and each
response (status and body) is validated by openapi-core against GET /api/schema/, with no
field the schema does not name."""

import copy
import json
import re
import threading
from http.server import BaseHTTPRequestHandler
from typing import Any
from urllib.parse import urlsplit

import lnurl
import pytest
from coincurve import PrivateKey
from django.core.cache import cache
from django.http import HttpResponse
from django.urls import resolve, reverse
from openapi_core import Config, OpenAPI
from openapi_core.contrib.django import DjangoOpenAPIRequest, DjangoOpenAPIResponse
from openapi_core.exceptions import OpenAPIError
from rest_framework.test import APIClient

from labeling.models import Assignment
from labeling.permissions import IsWorker
from serving.models import ServedModel
from serving.services import publishing
from tests.conftest import client_for
from tests.payouts.factories import invoice
from tests.payouts.node_servers import QuickServer
from tests.rewardmodel.run_helpers import finished_run
from tests.serving.conftest import engine_process

OPENAPI_JSON = "application/vnd.oai.openapi+json"
METHODS = {"get", "put", "post", "delete", "patch"}


def strict(spec: dict[str, Any]) -> dict[str, Any]:
    """The schema with `additionalProperties: false` on every object that lists its properties
    (drf-spectacular leaves it open), so an undocumented field fails validation.

    drf-spectacular writes a nullable nested object as `{"allOf": [$ref], "nullable": true}`,
    which OpenAPI 3.0.3 reads as not nullable (`nullable` needs a `type` beside it) and
    openapi-core follows the letter; it is validated as meant: the object, or null.
    """
    spec = copy.deepcopy(spec)

    def close(node: Any) -> None:
        if isinstance(node, dict):
            if "properties" in node and "additionalProperties" not in node:
                node["additionalProperties"] = False
            if "allOf" in node and node.get("nullable") is True and "type" not in node:
                node["anyOf"] = [{"allOf": node.pop("allOf")}, {"nullable": True, "enum": [None]}]
            for value in node.values():
                close(value)
        elif isinstance(node, list):
            for value in node:
                close(value)

    close(spec)
    return spec


def ndjson_text(value: bytes, **parameters: str) -> str:
    """The export's body as the schema types it (a string); each line must be a JSON object."""
    text = value.decode()
    if not all(isinstance(json.loads(line), dict) for line in text.splitlines()):
        raise ValueError("Each line of an NDJSON export is a JSON object.")
    return text


class SentRequest(DjangoOpenAPIRequest):
    """The request a response answered. Only responses are validated here, and a multipart
    body was already consumed by the view, so the body is not offered again. A request that a
    middleware refused was never resolved: its route is looked up here."""

    @property
    def body(self) -> bytes:
        return b""

    @property
    def path_pattern(self) -> str | None:
        if self.request.resolver_match is None:  # a middleware answered before URL resolution
            self.request.resolver_match = resolve(self.request.path)
        return super().path_pattern


class Contract:
    """Validates responses against the schema and remembers which (method, path, status)
    were exercised."""

    def __init__(self, spec: dict[str, Any]) -> None:
        config = Config(extra_media_type_deserializers={"application/x-ndjson": ndjson_text})
        self.openapi = OpenAPI.from_dict(strict(spec), config=config)
        self.documented = {
            (method, path, code)
            for path, operations in spec["paths"].items()
            for method, operation in operations.items()
            if method in METHODS
            for code in operation["responses"]
        }
        self.seen: set[tuple[str, str, str]] = set()

    def check(self, response: Any, status: int) -> Any:
        assert response.status_code == status, response.content
        request = SentRequest(response.wsgi_request)
        answered = response
        if response.streaming:  # read it once, here: the test client's stream is single-use
            answered = HttpResponse(
                b"".join(response.streaming_content),
                status=response.status_code,
                content_type=response["Content-Type"],
            )
        self.openapi.validate_response(request, DjangoOpenAPIResponse(answered))
        self.seen.add((request.method, request.path_pattern, str(status)))
        if answered.get("Content-Type", "").startswith("application/json"):
            return json.loads(answered.content)
        return answered.content

    def operations(self, pairs: set[tuple[str, str, str]]) -> set[tuple[str, str]]:
        return {(method, path) for method, path, _ in pairs}


@pytest.fixture
def contract(client: Any, db: Any) -> Contract:
    response = client.get(reverse("schema"), HTTP_ACCEPT=OPENAPI_JSON)
    assert response.status_code == 200
    assert response["Content-Type"].startswith(OPENAPI_JSON)
    return Contract(json.loads(response.content))


class PayService:
    """A Lightning Address's LNURL-pay service (LUD-16) on 127.0.0.1: enough to resolve."""

    def __init__(self) -> None:
        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

            def do_GET(self) -> None:
                body = json.dumps(
                    {
                        "tag": "payRequest",
                        "callback": f"http://{self.headers['Host']}/lnurlp/alice/callback",
                        "minSendable": 1_000,
                        "maxSendable": 50_000_000,
                        "metadata": json.dumps([["text/plain", "Pay alice"]]),
                    }
                ).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

        self.httpd = QuickServer(("127.0.0.1", 0), Handler)
        self.address = f"alice@127.0.0.1:{self.httpd.server_address[1]}"
        serve = {"poll_interval": 0.05}  # shutdown() waits up to one poll
        threading.Thread(target=self.httpd.serve_forever, kwargs=serve, daemon=True).start()

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def pay_service(settings: Any) -> Any:
    settings.LIGHTNING_ADDRESS_ALLOW_PRIVATE = True  # the service runs on 127.0.0.1
    service = PayService()
    yield service
    service.close()


# --- one function per part of the API; the test below runs them all -------------------


def pairs(count: int) -> list[dict[str, Any]]:
    return [
        {
            "prompt": f"Question {i}",
            "responses": [{"id": "a", "text": "A"}, {"id": "b", "text": "B"}],
        }
        for i in range(count)
    ]


def work_through(contract: Contract, api: Any) -> list[dict[str, Any]]:
    """A worker answers every task it is offered (best first as shown) until none is left."""
    ratings = []
    while (response := api.get(reverse("task-next"))).status_code == 200:
        task = contract.check(response, 200)
        ids = [option["id"] for option in task["task"]["responses"]]
        answer = (
            {"scores": {key: 7 - rank for rank, key in enumerate(ids)}}
            if task["task"]["type"] == "likert"
            else {"ranking": ids}
        )
        url = reverse("assignment-submit", args=[task["assignment_id"]])
        ratings.append(contract.check(api.post(url, answer, format="json"), 201))
    contract.check(response, 204)
    return ratings


def worker_tasks(contract: Contract, make_batch: Any, make_worker: Any) -> None:
    make_batch("pairwise", items=pairs(6), quality={"bonus_percent": 20})
    worker = make_worker()
    api = client_for(worker.user)
    submit = "assignment-submit"

    task = contract.check(api.get(reverse("task-next")), 200)
    assert task["bonus"] is not None and task["task"]["instructions_html"]
    url = reverse(submit, args=[task["assignment_id"]])
    contract.check(api.post(url, {"ranking": ["a"]}, format="json"), 400)
    stranger = client_for(make_worker().user)
    contract.check(stranger.post(url, {"ranking": ["a", "b"]}, format="json"), 404)
    done = contract.check(api.post(url, {"ranking": ["a", "b"]}, format="json"), 201)
    assert "next" not in done
    contract.check(api.post(url, {"ranking": ["a", "b"]}, format="json"), 409)

    task = contract.check(api.get(reverse("task-next")), 200)
    url = reverse(submit, args=[task["assignment_id"]]) + "?next=1"
    following = contract.check(api.post(url, {"ranking": ["b", "a"]}, format="json"), 201)
    assert following["next"]["assignment_id"] != task["assignment_id"]

    skip = reverse("assignment-skip", args=[following["next"]["assignment_id"]])
    contract.check(api.post(skip), 204)
    contract.check(api.post(skip), 409)
    contract.check(api.post(reverse("assignment-skip", args=[999_999])), 404)

    task = contract.check(api.get(reverse("task-next")), 200)
    report = reverse("assignment-report", args=[task["assignment_id"]])
    contract.check(api.post(report, {"reason": "boring"}, format="json"), 400)
    contract.check(api.post(report, {"reason": "spam", "note": "an ad"}, format="json"), 201)
    contract.check(api.post(report, {"reason": "spam"}, format="json"), 409)
    contract.check(api.post(reverse("assignment-report", args=[999_999]), {"reason": "pii"}), 404)

    task = contract.check(api.get(reverse("task-next")), 200)
    Assignment.objects.filter(id=task["assignment_id"]).update(expires_at="2000-01-01T00:00:00Z")
    expired = reverse(submit, args=[task["assignment_id"]])
    contract.check(api.post(expired, {"ranking": ["a", "b"]}, format="json"), 410)
    contract.check(api.post(reverse("assignment-skip", args=[task["assignment_id"]])), 410)
    expired_report = reverse("assignment-report", args=[task["assignment_id"]])
    contract.check(api.post(expired_report, {"reason": "spam"}, format="json"), 410)

    task = contract.check(api.get(reverse("task-next")), 200)
    url = reverse(submit, args=[task["assignment_id"]]) + "?next=1"
    last = contract.check(api.post(url, {"ranking": ["a", "b"]}, format="json"), 201)
    assert last["next"] is None
    contract.check(api.get(reverse("task-next")), 204)
    contract.check(api.get(reverse("me")), 200)


def requester_batches(
    contract: Contract, requester: Any, make_batch: Any, make_worker: Any, make_requester: Any
) -> None:
    api = client_for(requester.user)
    body = {
        "name": "likert by API",
        "task_type": "likert",
        "instructions": "Score each answer.",
        "reward_msat": 2_000,
        "overlap": 1,
        "quality": {"min_seconds": 0},  # the test client answers at once
        "items": [
            {"prompt": "p", "responses": [{"id": "p", "text": "P"}, {"id": "q", "text": "Q"}]}
        ],
    }
    created = contract.check(api.post(reverse("batch-create"), body, format="json"), 201)
    contract.check(api.post(reverse("batch-create"), {**body, "items": []}, format="json"), 400)
    broke = client_for(make_requester().user)
    contract.check(broke.post(reverse("batch-create"), body, format="json"), 402)
    reviewed = make_batch("pairwise", quality={"review_mode": "manual"})
    ratings = work_through(contract, client_for(make_worker().user))
    assert "pending_review" in {rating["status"] for rating in ratings}

    detail = reverse("batch-detail", args=[created["id"]])
    contract.check(api.get(detail), 200)
    contract.check(api.get(reverse("batch-detail", args=[999_999])), 404)
    ratings = reverse("batch-ratings", args=[created["id"]])
    listed = contract.check(api.get(ratings), 200)
    assert sorted(listed["results"][0]["scores"].values()) == [6, 7]
    contract.check(api.get(ratings, {"status": "lost"}), 400)
    contract.check(api.get(reverse("batch-ratings", args=[999_999])), 404)

    export = reverse("batch-export", args=[created["id"]])
    for kind in ("trl", "raw"):
        response = api.get(export, {"format": kind})
        assert contract.check(response, 200).strip()
        assert response["Content-Type"] == "application/x-ndjson"
    contract.check(api.get(export, {"format": "xml"}), 400)
    contract.check(api.get(reverse("batch-export", args=[999_999])), 404)

    queue = api.get(reverse("batch-ratings", args=[reviewed.id]), {"status": "pending_review"})
    waiting = contract.check(queue, 200)["results"][0]
    assert waiting["ranking"] is not None and waiting["scores"] is None
    review = reverse("ratings-review")
    one = {"rating_ids": [waiting["rating_id"]], "decision": "approve"}
    contract.check(api.post(review, {**one, "decision": "maybe"}, format="json"), 400)
    contract.check(api.post(review, {**one, "rating_ids": [999_999]}, format="json"), 404)
    contract.check(api.post(review, one, format="json"), 200)
    contract.check(api.post(review, one, format="json"), 409)


def requester_money(contract: Contract, requester: Any) -> None:
    api = client_for(requester.user)
    contract.check(api.get(reverse("requester")), 200)
    contract.check(api.post(reverse("deposit-create"), {"amount_msat": 0}, format="json"), 400)
    deposit = contract.check(
        api.post(reverse("deposit-create"), {"amount_msat": 50_000}, format="json"), 201
    )
    contract.check(api.get(reverse("deposit-detail", args=[deposit["id"]])), 200)
    contract.check(api.get(reverse("deposit-detail", args=[999_999])), 404)
    paid = contract.check(api.post(reverse("deposit-simulate-payment", args=[deposit["id"]])), 200)
    assert paid["status"] == "paid"
    contract.check(api.post(reverse("deposit-simulate-payment", args=[999_999])), 404)


def requester_runs(contract: Contract, requester: Any, make_batch: Any) -> None:
    """Runs are started here, not trained: their job is queued once the test commits."""
    api = client_for(requester.user)
    batch = make_batch()
    body = {"kind": "reward", "batches": [batch.id], "model": "tiny"}
    run = contract.check(api.post(reverse("runs"), body, format="json"), 201)
    contract.check(api.post(reverse("runs"), {**body, "epochs": 0}, format="json"), 400)
    contract.check(api.post(reverse("runs"), {**body, "batches": [999_999]}, format="json"), 404)
    contract.check(api.get(reverse("run-detail", args=[run["id"]])), 200)
    contract.check(api.get(reverse("run-detail", args=[999_999])), 404)
    assert contract.check(api.get(reverse("runs")), 200)["results"][0]["id"] == run["id"]


def serving(
    contract: Contract, requester: Any, make_batch: Any, make_requester: Any, make_worker: Any
) -> None:
    """Publishing a succeeded run, listing and unpublishing it; the fake node's demo wallet."""
    api = client_for(requester.user)
    run = finished_run(make_batch(), requester.user, status="succeeded", artifact_path="/m")
    body = {"run_id": run.id, "name": "scorer", "price_msat_per_response": 1_000}
    created = contract.check(api.post(reverse("served-models"), body, format="json"), 201)
    contract.check(api.post(reverse("served-models"), body, format="json"), 400)
    contract.check(api.get(reverse("served-models")), 200)
    detail = reverse("served-model-detail", args=[created["id"]])
    contract.check(client_for(make_requester().user).delete(detail), 404)
    contract.check(api.delete(detail), 204)

    deposit = contract.check(
        api.post(reverse("deposit-create"), {"amount_msat": 5_000}, format="json"), 201
    )
    pay = reverse("fake-pay")
    paid = contract.check(APIClient().post(pay, {"bolt11": deposit["bolt11"]}, format="json"), 200)
    assert len(paid["preimage"]) == 64
    contract.check(APIClient().post(pay, {"bolt11": "lnbcrt1nope"}, format="json"), 400)
    stranger = invoice(make_worker(), 1_000)  # valid, but not the fake node's
    contract.check(APIClient().post(pay, {"bolt11": stranger}, format="json"), 404)


def closed_loop(
    contract: Contract, requester: Any, make_batch: Any, make_requester: Any, settings: Any
) -> None:
    """A served policy answers prompts on an engine process and posts them as a batch."""

    def policy(owner: Any, name: str, engine_url: str) -> int:
        run = finished_run(
            make_batch(owner=owner), owner.user, status="succeeded", kind="ppo", artifact_path="/m"
        )
        prices = {"price_msat_per_1k_input": 1, "price_msat_per_1k_output": 1}
        model = publishing.publish_model(user=owner.user, run_id=run.id, name=name, prices=prices)
        ServedModel.objects.filter(id=model.id).update(engine_url=engine_url)
        return model.id

    api = client_for(requester.user)
    body = {"prompts": ["one two", {"prompt": "p", "reference": "r"}], "reward_msat": 1_000}

    def url(model_id: int) -> str:
        return reverse("served-model-batches", args=[model_id])

    with engine_process("--engine", "echo") as engine:
        model_id = policy(requester, "looper", engine)
        made = contract.check(api.post(url(model_id), body, format="json"), 201)
        assert made["items_count"] == 2
        contract.check(api.post(url(model_id), {**body, "prompts": []}, format="json"), 400)
        contract.check(api.post(url(999_999), body, format="json"), 404)
        broke = make_requester()
        broke_model = policy(broke, "broke", engine)
        contract.check(client_for(broke.user).post(url(broke_model), body, format="json"), 402)
    contract.check(api.post(url(model_id), body, format="json"), 502)  # the engine is gone
    settings.SERVING_ENGINE_TIMEOUT_SECONDS = 1
    with engine_process("--engine", "echo", "--stall-after", "0") as engine:
        ServedModel.objects.filter(id=model_id).update(engine_url=engine)
        contract.check(api.post(url(model_id), body, format="json"), 504)


def worker_login(contract: Contract, client: Any) -> None:
    offer = contract.check(client.post(reverse("lnurl-auth")), 201)
    poll = reverse("lnurl-auth-poll", args=[offer["k1"]])
    assert contract.check(client.get(poll), 202) == {"status": "pending"}
    key = PrivateKey()
    signed = {
        "tag": "login",
        "k1": offer["k1"],
        "sig": key.sign(bytes.fromhex(offer["k1"]), hasher=None).hex(),
        "key": key.public_key.format().hex(),
    }
    callback = reverse("lnurl-auth-callback")
    assert contract.check(client.get(callback, signed), 200) == {"status": "OK"}
    assert contract.check(client.get(callback, signed), 200)["status"] == "ERROR"
    done = contract.check(client.get(poll), 200)
    assert done["status"] == "ok"
    contract.check(client.get(poll), 410)
    contract.check(client.get(reverse("lnurl-auth-poll", args=["ab" * 32])), 404)
    contract.check(client.get(reverse("lightning-info")), 200)

    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Token {done['token']}")
    contract.check(api.post(reverse("api-logout")), 204)
    contract.check(api.post(reverse("api-logout")), 401)


def rate_limits(contract: Contract, client: Any, settings: Any) -> None:
    """Over the limit: 429 (an LNURL ERROR from the wallets' endpoints)."""
    settings.RATE_LIMIT_LOGIN = settings.RATE_LIMIT_LNURL = "1/min"
    cache.clear()
    client.post(reverse("lnurl-auth"))
    contract.check(client.post(reverse("lnurl-auth")), 429)
    wallet_calls = [
        reverse("lnurl-auth-callback"),
        reverse("lnurl-withdraw", args=["00" * 32]),
        reverse("lnurl-withdraw-callback"),
    ]
    client.get(wallet_calls[0])
    for url in wallet_calls:
        assert contract.check(client.get(url), 429)["status"] == "ERROR"


def worker_payouts(
    contract: Contract, client: Any, make_batch: Any, make_worker: Any, pay_service: PayService
) -> None:
    make_batch("pairwise")
    worker = make_worker()
    api = client_for(worker.user)
    assert work_through(contract, api)

    create = reverse("withdrawal-create")
    contract.check(api.post(create, {"amount_msat": 10**9}, format="json"), 400)
    withdrawal = contract.check(api.post(create, {"amount_msat": 3_000}, format="json"), 201)
    contract.check(api.get(reverse("withdrawal-detail", args=[withdrawal["id"]])), 200)
    contract.check(api.get(reverse("withdrawal-detail", args=[999_999])), 404)

    # The wallet decodes the LNURL, reads the withdrawRequest, then sends its invoice.
    offer = contract.check(client.get(urlsplit(lnurl.url_decode(withdrawal["lnurl"])).path), 200)
    assert offer["tag"] == "withdrawRequest"
    k1 = offer["k1"]
    unknown = contract.check(client.get(reverse("lnurl-withdraw", args=["00" * 32])), 200)
    assert unknown["status"] == "ERROR"
    callback = reverse("lnurl-withdraw-callback")
    assert contract.check(client.get(callback, {"k1": k1}), 200)["status"] == "ERROR"
    accepted = contract.check(client.get(callback, {"k1": k1, "pr": invoice(worker, 3_000)}), 200)
    assert accepted == {"status": "OK"}

    address = reverse("lightning-address")
    contract.check(api.get(address), 404)
    contract.check(api.put(address, {"address": "not-an-address"}, format="json"), 400)
    contract.check(api.put(address, {"address": pay_service.address}, format="json"), 200)
    contract.check(api.get(address), 200)
    contract.check(api.delete(address), 204)


def refusals(contract: Contract, worker: Any, requester: Any, django_user_model: Any) -> None:
    """What is answered before a view runs: 400 for a NUL in the query, on every API operation
    but the wallets'; 401 for a bad token wherever credentials are read; 403 for a signed-in
    user who is neither a worker nor a requester (an admin's session); 415 for a body in a
    media type no parser reads, from a client the operation lets in."""
    bad_token = APIClient()
    bad_token.credentials(HTTP_AUTHORIZATION="Token not-a-token")
    admin = APIClient()
    admin.force_login(django_user_model.objects.create_user("admin-only"))
    as_worker, as_requester = client_for(worker.user), client_for(requester.user)
    for method, path, code in sorted(contract.documented):
        url = re.sub(r"\{k1\}", "ab" * 32, re.sub(r"\{\w+_id\}", "1", path))
        if code == "400":
            contract.check(APIClient().generic(method.upper(), url + "?q=%00"), 400)
        elif code == "401":
            contract.check(bad_token.generic(method.upper(), url), 401)
        elif code == "403":
            contract.check(admin.generic(method.upper(), url), 403)
        elif code == "415":
            permissions = resolve(url).func.view_class.permission_classes
            api = as_worker if IsWorker in permissions else as_requester
            contract.check(api.generic(method.upper(), url, "x", "text/plain"), 415)


def test_every_documented_response_is_exercised_and_matches_the_schema(
    contract,
    client,
    requester,
    make_batch,
    make_worker,
    make_requester,
    pay_service,
    settings,
    django_user_model,
):
    worker_tasks(contract, make_batch, make_worker)
    requester_batches(contract, requester, make_batch, make_worker, make_requester)
    requester_money(contract, requester)
    requester_runs(contract, requester, make_batch)
    serving(contract, requester, make_batch, make_requester, make_worker)
    closed_loop(contract, requester, make_batch, make_requester, settings)
    worker_login(contract, client)
    worker_payouts(contract, client, make_batch, make_worker, pay_service)
    rate_limits(contract, client, settings)
    refusals(contract, make_worker(), requester, django_user_model)

    # Every operation, and every status each one documents, was answered for real.
    assert contract.operations(contract.documented) - contract.operations(contract.seen) == set()
    assert contract.documented - contract.seen == set()


def test_a_field_the_schema_does_not_name_fails_validation(contract, client):
    response = client.get(reverse("lightning-info"))
    contract.check(response, 200)
    response.content = json.dumps({**response.json(), "node_alias": "x"}).encode()
    with pytest.raises(OpenAPIError):
        contract.check(response, 200)


def test_a_status_the_schema_does_not_name_fails_validation(contract, client):
    response = client.get(reverse("lightning-info"))
    response.status_code = 418
    with pytest.raises(OpenAPIError):
        contract.check(response, 418)
