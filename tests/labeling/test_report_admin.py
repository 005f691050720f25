"""A requester resolves reports in the admin: the items are served again."""

from django.contrib.admin.helpers import ACTION_CHECKBOX_NAME
from django.urls import reverse

from labeling.models import Item, Report
from labeling.services import assignments as assignment_services


def test_resolving_a_report_in_the_admin_serves_the_item_again(
    client, make_batch, make_worker, requester, settings
):
    settings.REPORTS_TO_BLOCK_ITEM = 1
    make_batch("pairwise")
    worker = make_worker()
    assignment = assignment_services.next_assignment_for(worker=worker)
    report = assignment_services.report_assignment(
        worker=worker, assignment_id=assignment.id, reason="pii"
    )
    client.force_login(requester.user)
    response = client.post(
        reverse("admin:labeling_report_changelist"),
        {"action": "resolve_and_unblock", ACTION_CHECKBOX_NAME: [report.id]},
    )
    assert response.status_code == 302
    assert Report.objects.get(id=report.id).resolved is True
    assert Item.objects.get(id=assignment.item_id).blocked is False
