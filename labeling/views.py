"""Worker task page: the first task is rendered with the page, the rest come by fetch."""

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.csrf import ensure_csrf_cookie

from . import selectors
from .balances import worker_balance_msat
from .models import Worker
from .permissions import for_workers
from .quality.trust import PROBATION_HELD_CAP
from .services.assignments import next_assignment_for


def home(request: HttpRequest) -> HttpResponse:
    return redirect("work" if hasattr(request.user, "worker") else "login")


@login_required
@ensure_csrf_cookie  # task.js posts answers with the session and this cookie's token
@for_workers
def work_page(request: HttpRequest, worker: Worker) -> HttpResponse:
    assignment = next_assignment_for(worker=worker)
    task = selectors.task_payload(assignment=assignment, worker=worker) if assignment else None
    return render(
        request,
        "labeling/work.html",
        {
            "task": task,
            "balance_msat": worker_balance_msat(worker),
            # New keys are told how probation works (templates/labeling/_probation.html).
            "on_probation": worker.standing == Worker.Standing.PROBATION,
            "held_cap": PROBATION_HELD_CAP,
        },
    )
