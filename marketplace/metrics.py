"""GET /metrics for Prometheus: request counts from a middleware, and the business figures
(ratings, payouts, reconcile findings, Celery queue depth) read at scrape time from the
database and the broker, which every web and Celery process shares.

Request counts live in each process; under gunicorn set PROMETHEUS_MULTIPROC_DIR so that
prometheus_client sums them over the workers (its multiprocess mode).
"""

import hmac
import ipaddress
import logging
import os
from collections.abc import Callable, Iterator
from datetime import datetime, timedelta

import redis
from django.conf import settings
from django.db import DatabaseError
from django.db.models import Count, DurationField, ExpressionWrapper, F, Q, Sum
from django.http import HttpRequest, HttpResponse
from django.utils import timezone
from prometheus_client import CollectorRegistry, Counter, disable_created_metrics
from prometheus_client.core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
    Metric,
)
from prometheus_client.exposition import choose_encoder
from prometheus_client.multiprocess import MultiProcessCollector

from labeling.models import Rating
from payouts.models import Deposit, Withdrawal

log = logging.getLogger(__name__)
disable_created_metrics()  # no `_created` series beside every counter

# Not in the default registry: each scrape builds its own (see `metrics`).
REQUESTS = Counter(
    "marketplace_http_requests",
    "HTTP requests answered, by URL name and status code.",
    ["view", "status"],
    registry=None,
)
# Seconds from the wallet's invoice (the LNURL-withdraw callback) to the payment being paid.
PAY_LATENCY_BUCKETS = (0.25, 0.5, 1, 2, 5, 10, 30, 60, 300, 1800, 3600)
# Kombu's Redis transport keeps priorities 3, 6 and 9 in lists of their own.
PRIORITY_SUFFIXES = ("", "\x06\x163", "\x06\x166", "\x06\x169")
# refresh_unpaid_deposits (run by reconcile) looks at deposits this young.
DEPOSIT_RECONCILE_WINDOW = timedelta(days=2)


class RequestCountMiddleware:
    """Counts every response by the name of the URL it matched (bounded: no raw paths)."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        match = request.resolver_match
        view = (match.view_name or match.route) if match else "unmatched"
        REQUESTS.labels(view, str(response.status_code)).inc()
        return response


class BusinessCollector:
    """Figures read from the database and the broker when Prometheus scrapes."""

    def collect(self) -> Iterator[Metric]:
        try:
            yield from self._from_database()
            yield GaugeMetricFamily("marketplace_database_up", "1 if the database answered.", 1)
        except DatabaseError as exc:
            log.warning("metrics: database unavailable", extra={"error": str(exc)})
            yield GaugeMetricFamily("marketplace_database_up", "1 if the database answered.", 0)
        yield from _queue_depths()

    def _from_database(self) -> list[Metric]:
        # Built whole before anything is yielded: a database error drops all of it, not half.
        now = timezone.now()
        by_status = dict(Rating.objects.values_list("status").annotate(n=Count("id")).order_by())
        submitted = CounterMetricFamily(
            "marketplace_ratings_submitted", "Ratings submitted by labelers."
        )
        submitted.add_metric([], sum(by_status.values()))
        ratings = _by_status("marketplace_ratings", "Ratings by review status.", Rating, by_status)
        withdrawals = _by_status(
            "marketplace_withdrawals",
            "Withdrawals by state (paid, failed and expired are final).",
            Withdrawal,
            dict(Withdrawal.objects.values_list("status").annotate(n=Count("id")).order_by()),
        )
        deposits = _by_status(
            "marketplace_deposits",
            "Requester deposits by state.",
            Deposit,
            dict(Deposit.objects.values_list("status").annotate(n=Count("id")).order_by()),
        )
        return [submitted, ratings, withdrawals, deposits, _pay_latency(), _findings(now)]


def _by_status(name: str, doc: str, model: type, counts: dict[str, int]) -> GaugeMetricFamily:
    family = GaugeMetricFamily(name, doc, labels=["status"])
    for status in model.Status.values:  # type: ignore[attr-defined]
        family.add_metric([status], counts.get(status, 0))
    return family


def _pay_latency() -> HistogramMetricFamily:
    latency = ExpressionWrapper(F("finished_at") - F("invoice_accepted_at"), DurationField())
    paid = Withdrawal.objects.filter(
        status=Withdrawal.Status.PAID, invoice_accepted_at__isnull=False, finished_at__isnull=False
    ).annotate(latency=latency)
    under = {
        f"le_{i}": Count("id", filter=Q(latency__lte=timedelta(seconds=bound)))
        for i, bound in enumerate(PAY_LATENCY_BUCKETS)
    }
    row = paid.aggregate(count=Count("id"), total=Sum("latency"), **under)
    buckets = [(str(float(b)), row[f"le_{i}"]) for i, b in enumerate(PAY_LATENCY_BUCKETS)]
    buckets.append(("+Inf", row["count"]))
    total = row["total"].total_seconds() if row["total"] else 0.0
    return HistogramMetricFamily(
        "marketplace_withdrawal_pay_seconds",
        "Seconds from the wallet's invoice (withdraw callback) to paid, over paid withdrawals.",
        buckets=buckets,
        sum_value=total,
    )


def _findings(now: datetime) -> GaugeMetricFamily:
    # Past this, reconcile (every 30 s) should have finished, expired or re-sent the row.
    overdue = now - timedelta(seconds=settings.PAYOUT_RESEND_AFTER_SECONDS)
    family = GaugeMetricFamily(
        "marketplace_reconcile_findings",
        "Rows reconcile should have finished by now: withdrawals stuck paying, open "
        "withdrawals past expiry, unpaid deposits past expiry.",
        labels=["kind"],
    )
    stuck = Withdrawal.objects.filter(
        status=Withdrawal.Status.PAYING, invoice_accepted_at__lte=overdue
    )
    family.add_metric(["withdrawal_stuck_paying"], stuck.count())
    stale_open = Withdrawal.objects.filter(status=Withdrawal.Status.OPEN, expires_at__lte=overdue)
    family.add_metric(["withdrawal_open_past_expiry"], stale_open.count())
    stale_deposits = Deposit.objects.filter(
        status=Deposit.Status.UNPAID,
        expires_at__lte=overdue,
        created_at__gte=now - DEPOSIT_RECONCILE_WINDOW,
    )
    family.add_metric(["deposit_unpaid_past_expiry"], stale_deposits.count())
    return family


def _queue_depths() -> Iterator[Metric]:
    """Messages waiting per Celery queue, when the broker is Redis; nothing when jobs run
    in-process or the broker is another kind. A broker that is down is `broker_up 0`."""
    url = settings.CELERY_BROKER_URL
    if settings.CELERY_TASK_ALWAYS_EAGER or not url.startswith(("redis://", "rediss://")):
        return
    queues = sorted(
        {settings.CELERY_TASK_DEFAULT_QUEUE}
        | {route["queue"] for route in settings.CELERY_TASK_ROUTES.values()}
    )
    try:
        client = redis.Redis.from_url(url, socket_timeout=1, socket_connect_timeout=1)
        with client.pipeline(transaction=False) as pipe:
            for queue in queues:
                for suffix in PRIORITY_SUFFIXES:
                    pipe.llen(queue + suffix)
            lengths = pipe.execute()
        client.close()
    except redis.RedisError as exc:
        log.warning("metrics: broker unavailable", extra={"error": str(exc)})
        yield GaugeMetricFamily("marketplace_broker_up", "1 if the broker answered.", 0)
        return
    yield GaugeMetricFamily("marketplace_broker_up", "1 if the broker answered.", 1)
    depth = GaugeMetricFamily(
        "marketplace_celery_queue_length", "Jobs waiting in each Celery queue.", labels=["queue"]
    )
    step = len(PRIORITY_SUFFIXES)
    for i, queue in enumerate(queues):
        depth.add_metric([queue], sum(lengths[i * step : (i + 1) * step]))
    yield depth


def _allowed(request: HttpRequest) -> bool:
    """The bearer token, or a direct connection from an allowed address. A request that
    came through a proxy carries the proxy's address, so only the token lets it in."""
    token = settings.METRICS_TOKEN
    if token and hmac.compare_digest(
        request.headers.get("Authorization", "").encode(), f"Bearer {token}".encode()
    ):
        return True
    if "X-Forwarded-For" in request.headers or "Forwarded" in request.headers:
        return False
    try:
        address = ipaddress.ip_address(request.META.get("REMOTE_ADDR", ""))
    except ValueError:
        return False
    return any(
        address in ipaddress.ip_network(allowed, strict=False)
        for allowed in settings.METRICS_ALLOWED_IPS
    )


def metrics(request: HttpRequest) -> HttpResponse:
    if not _allowed(request):
        return HttpResponse("Forbidden\n", status=403, content_type="text/plain")
    registry = CollectorRegistry()
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        MultiProcessCollector(registry)  # the request counts of every gunicorn worker
    else:
        registry.register(REQUESTS)
    registry.register(BusinessCollector())
    encode, content_type = choose_encoder(request.headers.get("Accept", ""))
    return HttpResponse(encode(registry), content_type=content_type)
