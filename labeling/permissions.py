"""Who may call which API: workers rate, requesters post and read their batches."""

from typing import Any

from rest_framework.permissions import BasePermission

from .models import Requester, Worker


def worker_of(user: Any) -> Worker | None:
    return getattr(user, "worker", None) if user.is_authenticated else None


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
