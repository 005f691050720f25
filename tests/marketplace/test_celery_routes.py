"""The Lightning Address push runs on its own queue, under time limits, so slow address
services never keep the payouts workers from paying withdrawals."""

from marketplace.celery import app
from payouts import tasks


def queue_of(task_name: str) -> str:
    return app.amqp.router.route({}, task_name)["queue"].name


def test_the_push_has_its_own_queue_and_payments_keep_theirs():
    assert queue_of("payouts.push_lightning_addresses") == "payouts_push"
    assert queue_of("payouts.pay_withdrawal") == "payouts"
    assert queue_of("payouts.reconcile") == "payouts"


def test_the_push_has_time_limits():
    task = tasks.push_lightning_addresses
    assert (task.soft_time_limit, task.time_limit) == (240, 300)
