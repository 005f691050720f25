"""Reads of the payouts app: balances as the ledger sees them."""

from django.db.models import Sum

from labeling.models import Requester, Worker

from . import ledger
from .models import Account, Transfer


def worker_available_msat(worker: Worker) -> int:
    """What the worker can withdraw now: one query (the balance provider)."""
    return ledger.balance_msat(ledger.worker_available(worker.id))


def requester_available_msat(requester: Requester) -> int:
    """What the requester can put into a new batch now (the upload preview's balance)."""
    return ledger.balance_msat(ledger.requester_available(requester.id))


def worker_balances(*, worker: Worker) -> dict[str, int]:
    rows = dict(Account.objects.filter(worker=worker).values_list("kind", "balance_msat"))
    return {
        "available_msat": rows.get(Account.Kind.WORKER_AVAILABLE, 0),
        "held_msat": rows.get(Account.Kind.WORKER_HELD, 0),
        "pending_msat": rows.get(Account.Kind.WORKER_PENDING, 0),
    }


def requester_balances(*, requester: Requester) -> dict[str, int]:
    reserved = Account.objects.filter(
        kind=Account.Kind.BATCH_RESERVED, batch__requester=requester
    ).aggregate(total=Sum("balance_msat", default=0))["total"]
    spent = Transfer.objects.filter(
        batch__requester=requester,
        kind__in=[Transfer.Kind.PAY_RATING, Transfer.Kind.APPROVE_HELD],
    ).aggregate(total=Sum("amount_msat", default=0))["total"]
    return {
        "balance_msat": ledger.balance_msat(ledger.requester_available(requester.id)),
        "reserved_msat": reserved,
        "spent_msat": spent,
    }
