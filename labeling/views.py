"""Worker pages: the task page (the first task is rendered with the page, the rest come by
fetch), the worker's own stats and the public leaderboard."""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.csrf import ensure_csrf_cookie
from django.views.decorators.gzip import gzip_page
from django.views.decorators.http import require_POST

from . import charts, selectors
from .auth import client_fingerprint
from .balances import worker_balance_msat
from .models import Worker
from .permissions import for_workers, worker_of
from .quality.trust import PROBATION_HELD_CAP
from .services.assignments import next_assignment_for
from .services.profiles import set_leaderboard_listing

LISTING_CHOICES = {"1": True, "0": False}


def home(request: HttpRequest) -> HttpResponse:
    return redirect("work" if hasattr(request.user, "worker") else "login")


@gzip_page
@login_required
@ensure_csrf_cookie  # task.js posts answers with the session and this cookie's token
@for_workers
def work_page(request: HttpRequest, worker: Worker) -> HttpResponse:
    assignment = next_assignment_for(worker=worker, client=client_fingerprint(request))
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


@gzip_page
@login_required
@for_workers
def stats_page(request: HttpRequest, worker: Worker) -> HttpResponse:
    stats = selectors.worker_stats(worker=worker)
    chart = charts.daily_bars(
        stats["by_day"],
        label=_("Earnings by day, last %(days)s days: %(sats)s sats")
        % {"days": selectors.STATS_DAYS, "sats": stats["recent_msat"] // 1000},
        unit=_("sats"),
    )
    return render(
        request,
        "labeling/stats.html",
        {
            "stats": stats,
            "chart": chart,
            "days": selectors.STATS_DAYS,
            "profile": selectors.public_profile_of(worker=worker),
            "balance_msat": worker_balance_msat(worker),
        },
    )


@login_required
@require_POST
@for_workers
def leaderboard_listing(request: HttpRequest, worker: Worker) -> HttpResponse:
    """Joins or leaves the public leaderboard (`listed` is 1 or 0)."""
    listed = LISTING_CHOICES.get(request.POST.get("listed", ""))
    if listed is None:
        messages.error(request, _("Choose to show or hide your name."))
    else:
        set_leaderboard_listing(worker=worker, listed=listed)
    return redirect(f"{reverse('stats')}#leaderboard")


@gzip_page
def leaderboard_page(request: HttpRequest) -> HttpResponse:
    """Public: anyone may look; only workers who chose to be listed are on it."""
    worker = worker_of(request.user)
    return render(
        request,
        "labeling/leaderboard.html",
        {
            "rows": selectors.leaderboard(),
            "me": worker.id if worker else None,
            "balance_msat": worker_balance_msat(worker) if worker else 0,
            "min_checks": selectors.MIN_CHECKS_FOR_ACCURACY,
        },
    )
