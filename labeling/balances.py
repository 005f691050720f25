"""A worker's withdrawable balance, as the ledger keeps it.

Labeling's pages and answers show it, but labeling imports no payouts: the payouts app
registers its selector here when it loads, so there is one source of the figure.
"""

from collections.abc import Callable

from django.core.exceptions import ImproperlyConfigured

from .models import Worker

BalanceProvider = Callable[[Worker], int]
_provider: BalanceProvider | None = None


def register_balance_provider(provider: BalanceProvider) -> None:
    global _provider
    _provider = provider


def worker_balance_msat(worker: Worker) -> int:
    if _provider is None:
        raise ImproperlyConfigured("The payouts app keeps balances: add it to INSTALLED_APPS.")
    return _provider(worker)
