"""Fuzzing over the served OpenAPI schema (schemathesis): every operation, called as a worker,
a requester and an anonymous client, with generated ids and with ids of real rows, answers no
5xx, only statuses the schema documents, and bodies and content types that match it."""

from dataclasses import dataclass
from typing import Any

import hypothesis
import pytest
import schemathesis
from django.core import signals
from django.core.wsgi import get_wsgi_application
from django.db import close_old_connections
from rest_framework.authtoken.models import Token
from schemathesis.checks import unsupported_method
from schemathesis.core.parameters import ParameterLocation

from core.errors import is_wallet_path
from labeling.models import Requester, Worker
from labeling.services import assignments as assignment_services
from payouts.services import deposits as deposit_services
from rewardmodel.services import runs as run_services
from serving.services import publishing
from tests.payouts.factories import credit_worker, open_withdrawal
from tests.rewardmodel.run_helpers import finished_run

EXAMPLES_PER_OPERATION = 25

CONFIG = schemathesis.Config.from_dict(
    {
        "seed": 20260101,
        # Credentials are the identity under test, sent by the test, not generated.
        "generation": {"max-examples": EXAMPLES_PER_OPERATION, "with-security-parameters": False},
        # Off: many 400s are rules that depend on state or on other fields (the balance, the
        # assignment's response ids, an address that must resolve, `items` or `file`), which
        # no schema states. Every other check runs, negative data rejection included.
        "checks": {"positive_data_acceptance": {"enabled": False}},
    }
)
schema = schemathesis.openapi.from_wsgi(
    "/api/schema/",
    get_wsgi_application(),
    config=CONFIG,
    headers={"Accept": "application/vnd.oai.openapi+json"},
)


@pytest.fixture(autouse=True)
def requests_share_the_test_transaction() -> Any:
    """Django closes the connection after each request (`close_old_connections`), which would
    end the test's transaction on PostgreSQL; its test client holds that off during a request,
    and so does this for schemathesis's WSGI client."""
    for signal in (signals.request_started, signals.request_finished):
        signal.disconnect(close_old_connections)
    yield
    for signal in (signals.request_started, signals.request_finished):
        signal.connect(close_old_connections)


@dataclass
class World:
    """Rows a fuzzed request can reach: each identity's token, and one id of each kind."""

    tokens: dict[str, str]
    ids: dict[str, int | str]


@pytest.fixture
def world(requester: Requester, worker: Worker, make_batch: Any) -> World:
    make_batch("pairwise")
    assignment = assignment_services.next_assignment_for(worker=worker)
    assert assignment is not None
    credit_worker(worker, 50_000)
    withdrawal = open_withdrawal(worker, 10_000)
    deposit = deposit_services.create_deposit(requester=requester, amount_msat=20_000)
    run = run_services.start_run(
        kind="rm",
        batches=[assignment.item.batch],
        config={"model": "tiny"},
        started_by=requester.user,
        queue=False,
    )
    # A policy with no engine running: a generation asked of it is refused (502).
    policy = finished_run(
        make_batch("pairwise"), requester.user, status="succeeded", kind="ppo", artifact_path="/m"
    )
    served = publishing.publish_model(
        user=requester.user,
        run_id=policy.id,
        name="policy",
        prices={"price_msat_per_1k_input": 1, "price_msat_per_1k_output": 1},
    )
    tokens = {
        "worker": Token.objects.get_or_create(user=worker.user)[0].key,
        "requester": Token.objects.get_or_create(user=requester.user)[0].key,
    }
    ids: dict[str, int | str] = {
        "assignment_id": assignment.id,
        "batch_id": assignment.item.batch_id,
        "deposit_id": deposit.id,
        "withdrawal_id": withdrawal.id,
        "run_id": run.id,
        "k1": withdrawal.k1,
        "served_model_id": served.id,
    }
    return World(tokens=tokens, ids=ids)


def path_is_valid(case: schemathesis.Case) -> bool:
    """Whether the path parameters were generated to fit the schema (negative cases may
    break them on purpose; a real id in their place would make the check misjudge)."""
    path = case.meta.components.get(ParameterLocation.PATH) if case.meta else None
    return path is None or path.mode == schemathesis.GenerationMode.POSITIVE


@schema.parametrize()
@hypothesis.settings(
    max_examples=EXAMPLES_PER_OPERATION,
    deadline=None,
    derandomize=True,  # the same cases on every run, so CI is repeatable
    # The world is made once per operation and identity; the requests may change it (a
    # deposit paid, a withdrawal opened) and later examples see that, as a client would.
    suppress_health_check=[hypothesis.HealthCheck.function_scoped_fixture],
)
@pytest.mark.parametrize("ids", ["generated", "real"])
@pytest.mark.parametrize("identity", ["worker", "requester", "anonymous"])
def test_fuzzed_requests_get_documented_answers(
    case: schemathesis.Case, ids: str, identity: str, world: World
) -> None:
    if ids == "real" and path_is_valid(case):
        for name in case.path_parameters or {}:
            if name in world.ids:
                case.path_parameters[name] = world.ids[name]
    headers = {}
    if identity in world.tokens:
        headers["Authorization"] = f"Token {world.tokens[identity]}"
    # Wallet endpoints answer every refusal, an unsupported method included, as an LNURL
    # ERROR with HTTP 200 (API.md, LUD-06), where the check wants a 405.
    excluded = [unsupported_method] if is_wallet_path(case.path) else []
    case.call_and_validate(headers=headers, excluded_checks=excluded)


@pytest.mark.parametrize("identity", ["worker", "requester"])
def test_linked_requests_get_documented_answers(identity: str, world: World) -> None:
    """Schemathesis links operations by their ids (a task to its submit, skip and report; a
    batch to its detail, ratings and export; a deposit to its detail and payment) and walks
    those chains, so ids made by one call reach the next."""
    token = world.tokens[identity]

    class Client(schema.as_state_machine()):  # type: ignore[misc]
        def get_call_kwargs(self, case: schemathesis.Case) -> dict[str, Any]:
            return {"headers": {"Authorization": f"Token {token}"}}

        def validate_response(
            self, response: schemathesis.Response, case: schemathesis.Case, **kwargs: Any
        ) -> None:
            # Named as the request's headers, the token counts as given rather than generated:
            # the auth check then probes the call without it and with a bad one.
            case.validate_response(response, headers=kwargs["headers"], transport_kwargs=kwargs)

    Client.run(
        settings=hypothesis.settings(
            max_examples=EXAMPLES_PER_OPERATION,
            stateful_step_count=6,
            deadline=None,
            derandomize=True,
            suppress_health_check=list(hypothesis.HealthCheck),
        )
    )
