"""A batch closes once: cancelled by its requester or completed, and then it stays closed.
Edits go through the batch service, whichever screen sends them."""

import pytest

from core.errors import NotFound
from labeling.errors import InvalidBatch
from labeling.models import Batch, Item, Report
from labeling.services import assignments as assignment_services
from labeling.services import batches as batch_services
from payouts import ledger


def test_cancelling_closes_the_batch_once_and_releases_its_reservation(make_batch, requester):
    batch = make_batch("pairwise", reward_msat=5_000)
    before = ledger.balance_msat(ledger.requester_available(requester.id))
    assert batch_services.cancel_batch(batch=batch) is True
    assert batch_services.cancel_batch(batch=batch) is False
    assert Batch.objects.get(id=batch.id).status == Batch.Status.CANCELLED
    assert ledger.balance_msat(ledger.requester_available(requester.id)) == before + 25_000
    assert ledger.balance_msat(ledger.batch_reserved(batch.id)) == 0


def test_a_cancelled_batch_stays_cancelled(make_batch):
    batch = make_batch("pairwise")
    batch_services.cancel_batch(batch=batch)
    for status in (Batch.Status.OPEN, Batch.Status.PAUSED):
        with pytest.raises(InvalidBatch, match="stays closed"):
            batch_services.update_batch(batch=batch, changes={"status": status})
    assert batch_services.complete_batch(batch=batch) is False
    assert Batch.objects.get(id=batch.id).status == Batch.Status.CANCELLED


def test_a_requester_pauses_reopens_and_edits_but_does_not_complete(make_batch):
    batch = make_batch("pairwise")
    paused = batch_services.update_batch(
        batch=batch, changes={"status": Batch.Status.PAUSED, "name": "Renamed"}
    )
    assert (paused.status, paused.name) == (Batch.Status.PAUSED, "Renamed")
    reopened = batch_services.update_batch(batch=batch, changes={"status": Batch.Status.OPEN})
    assert reopened.status == Batch.Status.OPEN
    with pytest.raises(InvalidBatch, match="Open, pause or cancel"):
        batch_services.update_batch(batch=batch, changes={"status": Batch.Status.COMPLETED})
    with pytest.raises(InvalidBatch) as refused:
        batch_services.update_batch(batch=batch, changes={"reward_msat": 1})
    assert refused.value.detail == {"reward_msat": ["This field cannot be changed."]}
    assert Batch.objects.get(id=batch.id).reward_msat == 5_000


def test_cancelling_through_the_batch_edit_releases_the_reservation(make_batch, requester):
    batch = make_batch("pairwise", reward_msat=5_000)
    before = ledger.balance_msat(ledger.requester_available(requester.id))
    batch_services.update_batch(batch=batch, changes={"status": Batch.Status.CANCELLED})
    assert ledger.balance_msat(ledger.requester_available(requester.id)) == before + 25_000


def test_completing_only_closes_an_open_batch(make_batch):
    batch = make_batch("pairwise")
    batch_services.update_batch(batch=batch, changes={"status": Batch.Status.PAUSED})
    assert batch_services.complete_batch(batch=batch) is False
    batch_services.update_batch(batch=batch, changes={"status": Batch.Status.OPEN})
    assert batch_services.complete_batch(batch=batch) is True
    assert Batch.objects.get(id=batch.id).status == Batch.Status.COMPLETED


def test_resolving_reports_serves_the_items_again_for_their_own_requester_only(
    make_batch, make_worker, make_requester, settings
):
    settings.REPORTS_TO_BLOCK_ITEM = 1
    batch = make_batch("pairwise")
    worker = make_worker()
    assignment = assignment_services.next_assignment_for(worker=worker)
    report = assignment_services.report_assignment(
        worker=worker, assignment_id=assignment.id, reason="broken"
    )
    assert Item.objects.get(id=assignment.item_id).blocked is True
    stranger = make_requester()
    assert assignment_services.resolve_reports(report_ids=[report.id], requester=stranger) == 0
    assert Item.objects.get(id=assignment.item_id).blocked is True
    assert (
        assignment_services.resolve_reports(report_ids=[report.id], requester=batch.requester) == 1
    )
    assert Report.objects.get(id=report.id).resolved is True
    assert Item.objects.get(id=assignment.item_id).blocked is False


def test_a_submit_to_an_assignment_that_does_not_exist_is_not_found(worker):
    with pytest.raises(NotFound):
        assignment_services.answerable_assignment(worker=worker, assignment_id=2**70)
