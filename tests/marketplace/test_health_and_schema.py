import json
import logging

from django.urls import reverse

from marketplace.logs import JsonFormatter


def test_healthz_reports_each_part(client, db, settings):
    response = client.get("/healthz")
    assert response.status_code == 200
    broker = "eager" if settings.CELERY_TASK_ALWAYS_EAGER else "ok"
    assert response.json() == {"status": "ok", "db": "ok", "broker": broker, "lightning": "ok"}


def test_healthz_names_a_broker_that_is_down(client, db, settings):
    settings.CELERY_TASK_ALWAYS_EAGER = False
    settings.CELERY_BROKER_URL = "redis://127.0.0.1:1/0"  # nothing listens on port 1
    response = client.get("/healthz")
    assert response.status_code == 503
    assert response.json()["broker"] == "error"
    assert response.json()["failing"] == "broker"


def test_lightning_info(client, db):
    assert client.get(reverse("lightning-info")).json() == {"backend": "fake", "network": "regtest"}


def test_openapi_schema_and_docs_are_served(client, db):
    schema = client.get("/api/schema/?format=json")
    assert schema.status_code == 200
    paths = json.loads(schema.content)["paths"] if schema["Content-Type"].endswith("json") else None
    text = schema.content.decode()
    for path in (
        "/api/v1/tasks/next/",
        "/api/v1/assignments/{assignment_id}/submit/",
        "/api/v1/batches/",
        "/api/v1/auth/lnurl/",
    ):
        assert path in (paths or text)
    docs = client.get("/api/docs/")
    assert docs.status_code == 200
    assert b"swagger" in docs.content.lower()


def test_logs_are_one_json_object_per_line():
    record = logging.makeLogRecord(
        {
            "msg": "paid %s",
            "args": ("x",),
            "levelname": "INFO",
            "name": "payouts",
            "withdrawal_id": 7,
        }
    )
    line = json.loads(JsonFormatter().format(record))
    assert line["msg"] == "paid x"
    assert line["withdrawal_id"] == 7
    assert line["level"] == "INFO"
