"""Where a worker's withdrawable balance comes from.

Labeling knows only what ratings earned; the payouts app registers the ledger as the
provider when it is installed, so the API reports money as the ledger sees it.
"""

from collections.abc import Callable

from django.db.models import Q, Sum

from .models import Rating, Worker

BalanceProvider = Callable[[Worker], int]
_provider: BalanceProvider | None = None


def register_balance_provider(provider: BalanceProvider) -> None:
    global _provider
    _provider = provider


def worker_balance_msat(worker: Worker) -> int:
    if _provider is not None:
        return _provider(worker)
    return worker.ratings.aggregate(
        total=Sum("reward_msat", filter=Q(status=Rating.Status.APPROVED), default=0)
    )["total"]
