"""GET /metrics: the Prometheus exposition after the real flows, who may scrape it, queue
depth from the real Redis, and request counts summed over processes."""

import os
import subprocess
import sys
from pathlib import Path

import pytest
import redis
from django.urls import reverse
from prometheus_client.parser import text_string_to_metric_families

from labeling.models import Rating
from marketplace.celery import app as celery_app
from payouts.lightning import get_backend
from payouts.models import Withdrawal
from tests.payouts.factories import callback, credit_worker, invoice, open_withdrawal
from tests.processes import free_port

ROOT = Path(__file__).resolve().parents[2]
OUTSIDER = "203.0.113.5"  # TEST-NET-3: the test client makes no connection


def scrape(client, **extra) -> dict:
    """{(sample name, sorted labels): value}, and the family types under ("TYPE", family)."""
    response = client.get("/metrics", REMOTE_ADDR="127.0.0.1", **extra)
    assert response.status_code == 200
    found = {}
    for family in text_string_to_metric_families(response.content.decode()):
        found["TYPE", family.name] = family.type
        for sample in family.samples:
            found[sample.name, tuple(sorted(sample.labels.items()))] = sample.value
    return found


def requests_of(samples: dict, view: str, status: int) -> float:
    key = ("marketplace_http_requests_total", (("status", str(status)), ("view", view)))
    return samples.get(key, 0.0)


def test_ratings_submitted_and_approved_through_the_api(
    client, make_batch, worker_client, requester_client, settings
):
    settings.CELERY_BROKER_URL, settings.CELERY_TASK_ALWAYS_EAGER = "", True  # embedded mode
    before = scrape(client)
    make_batch("pairwise", quality={"review_mode": "manual"})
    for _ in range(3):
        task = worker_client.get(reverse("task-next")).json()
        ids = [r["id"] for r in task["task"]["responses"]]
        url = reverse("assignment-submit", args=[task["assignment_id"]])
        assert worker_client.post(url, {"ranking": ids}, format="json").status_code == 201
    two = list(Rating.objects.order_by("id").values_list("id", flat=True)[:2])
    review = {"rating_ids": two, "decision": "approve"}
    assert (
        requester_client.post(reverse("ratings-review"), review, format="json").status_code == 200
    )

    after = scrape(client)
    assert after["TYPE", "marketplace_ratings_submitted"] == "counter"
    assert after["marketplace_ratings_submitted_total", ()] == 3
    assert after["marketplace_ratings", (("status", "approved"),)] == 2
    assert after["marketplace_ratings", (("status", "pending_review"),)] == 1
    assert after["marketplace_ratings", (("status", "rejected"),)] == 0
    submits = requests_of(after, "assignment-submit", 201) - requests_of(
        before, "assignment-submit", 201
    )
    assert submits == 3
    assert requests_of(after, "ratings-review", 200) - requests_of(before, "ratings-review", 200)
    assert after["marketplace_database_up", ()] == 1
    assert ("TYPE", "marketplace_broker_up") not in after  # jobs run in-process: no broker


def test_a_withdrawal_paid_through_the_fake_node_counts_with_its_latency(
    client, worker, django_capture_on_commit_callbacks
):
    credit_worker(worker, 50_000)
    paid = open_withdrawal(worker, 21_000)
    with django_capture_on_commit_callbacks(execute=True):
        assert callback(client, paid.k1, invoice(worker, 21_000)) == {"status": "OK"}
    open_withdrawal(worker, 1_000)
    paid.refresh_from_db()
    assert paid.status == "paid"

    samples = scrape(client)
    assert samples["marketplace_withdrawals", (("status", "paid"),)] == 1
    assert samples["marketplace_withdrawals", (("status", "open"),)] == 1
    assert samples["marketplace_withdrawals", (("status", "failed"),)] == 0
    assert samples["TYPE", "marketplace_withdrawal_pay_seconds"] == "histogram"
    assert samples["marketplace_withdrawal_pay_seconds_count", ()] == 1
    assert samples["marketplace_withdrawal_pay_seconds_bucket", (("le", "+Inf"),)] == 1
    latency = (paid.finished_at - paid.invoice_accepted_at).total_seconds()
    assert samples["marketplace_withdrawal_pay_seconds_sum", ()] == pytest.approx(latency)
    findings = {k[1]: v for k, v in samples.items() if k[0] == "marketplace_reconcile_findings"}
    assert set(findings.values()) == {0}


def test_a_payment_stuck_paying_is_a_reconcile_finding(
    client, worker, settings, django_capture_on_commit_callbacks
):
    credit_worker(worker, 50_000)
    withdrawal = open_withdrawal(worker, 21_000)
    node = get_backend()
    node.mode = "hang"  # the node never answers: the row stays `paying`
    try:
        with django_capture_on_commit_callbacks(execute=True):
            callback(client, withdrawal.k1, invoice(worker, 21_000))
    finally:
        vars(node).pop("mode", None)
    assert Withdrawal.objects.get(id=withdrawal.id).status == "paying"
    stuck = ("marketplace_reconcile_findings", (("kind", "withdrawal_stuck_paying"),))

    assert scrape(client)[stuck] == 0  # reconcile still has time to finish it
    settings.PAYOUT_RESEND_AFTER_SECONDS = 0  # ... and now it has had all of it
    samples = scrape(client)
    assert samples[stuck] == 1
    assert samples["marketplace_withdrawals", (("status", "paying"),)] == 1


def test_another_address_is_refused_without_the_token(client, db, settings):
    settings.METRICS_TOKEN = "s3cret"
    assert client.get("/metrics", REMOTE_ADDR=OUTSIDER).status_code == 403
    wrong = client.get("/metrics", REMOTE_ADDR=OUTSIDER, HTTP_AUTHORIZATION="Bearer nope")
    assert wrong.status_code == 403
    right = client.get("/metrics", REMOTE_ADDR=OUTSIDER, HTTP_AUTHORIZATION="Bearer s3cret")
    assert right.status_code == 200


def test_no_token_configured_lets_no_bearer_in(client, db, settings):
    settings.METRICS_TOKEN = ""
    response = client.get("/metrics", REMOTE_ADDR=OUTSIDER, HTTP_AUTHORIZATION="Bearer ")
    assert response.status_code == 403


def test_allowed_networks_and_proxied_requests(client, db, settings):
    settings.METRICS_ALLOWED_IPS = ["127.0.0.1", "203.0.113.0/24"]
    assert client.get("/metrics", REMOTE_ADDR=OUTSIDER).status_code == 200
    # Through a proxy on this host REMOTE_ADDR is the proxy's: the address proves nothing.
    proxied = client.get("/metrics", REMOTE_ADDR="127.0.0.1", HTTP_X_FORWARDED_FOR=OUTSIDER)
    assert proxied.status_code == 403


@pytest.fixture
def redis_broker(settings):
    """Jobs go to Redis database 13 (emptied before and after)."""
    url = "redis://127.0.0.1:6379/13"
    store = redis.Redis.from_url(url)
    try:
        store.flushdb()
    except redis.ConnectionError:
        pytest.skip("no Redis at 127.0.0.1:6379")
    settings.CELERY_BROKER_URL, settings.CELERY_TASK_ALWAYS_EAGER = url, False
    celery_app.conf.task_always_eager = False  # the eager_celery fixture restores it
    yield url
    store.flushdb()
    store.close()


def test_queue_depth_per_celery_queue_from_redis(client, db, redis_broker):
    with celery_app.connection_for_write(redis_broker) as conn:
        for _ in range(2):
            celery_app.send_task(
                "payouts.pay_withdrawal", kwargs={"withdrawal_id": 1}, connection=conn
            )
        celery_app.send_task("labeling.expire_assignments", connection=conn)
    samples = scrape(client)
    assert samples["marketplace_broker_up", ()] == 1
    assert samples["marketplace_celery_queue_length", (("queue", "payouts"),)] == 2
    assert samples["marketplace_celery_queue_length", (("queue", "default"),)] == 1
    assert samples["marketplace_celery_queue_length", (("queue", "training"),)] == 0


def test_a_broker_that_is_down_does_not_fail_the_scrape(client, db, settings):
    settings.CELERY_BROKER_URL = f"redis://127.0.0.1:{free_port()}/0"  # connection refused
    settings.CELERY_TASK_ALWAYS_EAGER = False
    samples = scrape(client)
    assert samples["marketplace_broker_up", ()] == 0
    assert ("TYPE", "marketplace_celery_queue_length") not in samples
    assert samples["marketplace_ratings_submitted_total", ()] == 0


def test_request_counts_add_up_over_processes(client, db, tmp_path, monkeypatch):
    """Under gunicorn each worker counts in PROMETHEUS_MULTIPROC_DIR; any of them answers
    /metrics with the sum."""
    count = (
        "import django; django.setup();"
        "from marketplace.metrics import REQUESTS;"
        "REQUESTS.labels('task-next', '200').inc({})"
    )
    env = os.environ | {
        "PROMETHEUS_MULTIPROC_DIR": str(tmp_path),
        "DJANGO_SETTINGS_MODULE": "marketplace.settings",
        "DEBUG": "1",
    }
    workers = [
        subprocess.Popen([sys.executable, "-c", count.format(n)], cwd=ROOT, env=env) for n in (3, 4)
    ]
    assert [worker.wait(timeout=60) for worker in workers] == [0, 0]
    monkeypatch.setenv("PROMETHEUS_MULTIPROC_DIR", str(tmp_path))
    assert requests_of(scrape(client), "task-next", 200) == 7
