"""GET /healthz: database, broker and Lightning node, each named when it fails."""

import logging

from django.db import connection
from django.http import HttpRequest, JsonResponse

from core import jobs
from payouts.lightning import get_backend

logger = logging.getLogger(__name__)


def _database() -> str:
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
    return "ok"


def _broker() -> str:
    if jobs.runs_in_process():
        return "eager"
    jobs.check_broker()
    return "ok"


def _lightning() -> str:
    get_backend().info()
    return "ok"


def healthz(request: HttpRequest) -> JsonResponse:
    body = {"status": "ok"}
    for part, check in (("db", _database), ("broker", _broker), ("lightning", _lightning)):
        try:
            body[part] = check()
        except Exception as exc:  # any failure of a dependency is reported, never raised
            logger.warning("health check failed", extra={"part": part, "error": str(exc)})
            body[part] = "error"
            body["status"] = "error"
            body.setdefault("failing", part)
    return JsonResponse(body, status=200 if body["status"] == "ok" else 503)
