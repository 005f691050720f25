"""Who may call which API: workers rate, requesters post and read their batches."""

from collections.abc import Callable
from functools import wraps
from typing import Any

from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect
from rest_framework.permissions import BasePermission

from .models import Requester, Worker


def worker_of(user: Any) -> Worker | None:
    return getattr(user, "worker", None) if user.is_authenticated else None


def for_workers(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
    """A worker's page: called as `view(request, worker, ...)`; other users go to sign-in.

    Goes under `login_required`, which turns anonymous visitors away first.
    """

    @wraps(view)
    def page(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        worker = worker_of(request.user)
        if worker is None:
            return redirect("login")
        return view(request, worker, *args, **kwargs)

    return page


def requester_of(user: Any) -> Requester | None:
    return getattr(user, "requester", None) if user.is_authenticated else None


class IsWorker(BasePermission):
    message = "Only workers (signed in with a Lightning wallet) can do this."

    def has_permission(self, request: Any, view: Any) -> bool:
        return worker_of(request.user) is not None


class IsRequester(BasePermission):
    message = "Only requesters can do this."

    def has_permission(self, request: Any, view: Any) -> bool:
        return requester_of(request.user) is not None
