"""Clearing a database that ran on the fake Lightning node, before a real node may use it.

The fake node "receives" deposits nobody paid; everything that money reached (batch
reservations, workers' balances, withdrawals) is play money. Clearing closes the open
batches and deletes every money record, so the ledger starts from zero on the real node.
"""

from django.db import transaction

from labeling.models import Batch
from labeling.services.batches import cancel_batch

from ..models import (
    Account,
    Deposit,
    Entry,
    FakeNodeInvoice,
    FakeNodePayment,
    Transfer,
    Withdrawal,
)


@transaction.atomic
def clear_fake_money() -> dict[str, int]:
    """Returns how many batches were closed and money rows deleted, by kind."""
    closed = sum(
        cancel_batch(batch=batch)
        for batch in Batch.objects.exclude(status__in=Batch.CLOSED_STATUSES).order_by("id")
    )
    deleted = {"batches_closed": closed}
    for model in (Entry, Transfer, Withdrawal, Deposit, Account, FakeNodePayment, FakeNodeInvoice):
        deleted[model._meta.verbose_name_plural] = model.objects.all().delete()[0]
    return deleted
