"""Payouts tests run Celery jobs in-process unless a test starts a real worker."""

import pytest

from marketplace.celery import app as celery_app
from payouts.lightning.fake import FakeBackend


@pytest.fixture(autouse=True)
def eager_celery(request):
    if request.node.get_closest_marker("celery"):
        yield
        return
    before = celery_app.conf.task_always_eager
    celery_app.conf.task_always_eager = True
    yield
    celery_app.conf.task_always_eager = before


@pytest.fixture(autouse=True)
def healthy_fake_node():
    FakeBackend.mode = "ok"
    yield
    FakeBackend.mode = "ok"
