"""Balances as the ledger keeps them: a worker's withdrawable money, a requester's available
money (the upload preview says whether it covers a batch).

Labeling's pages and answers show them, but labeling imports no payouts: the payouts app
registers its selectors here when it loads, so there is one source of each figure.
"""

from collections.abc import Callable

from django.core.exceptions import ImproperlyConfigured

from .models import Requester, Worker

BalanceProvider = Callable[[Worker], int]
RequesterBalanceProvider = Callable[[Requester], int]
_provider: BalanceProvider | None = None
_requester_provider: RequesterBalanceProvider | None = None


def register_balance_provider(
    provider: BalanceProvider, requester_provider: RequesterBalanceProvider | None = None
) -> None:
    global _provider, _requester_provider
    _provider = provider
    _requester_provider = requester_provider


def worker_balance_msat(worker: Worker) -> int:
    if _provider is None:
        raise ImproperlyConfigured("The payouts app keeps balances: add it to INSTALLED_APPS.")
    return _provider(worker)


def requester_available_msat(requester: Requester) -> int:
    if _requester_provider is None:
        raise ImproperlyConfigured("The payouts app keeps balances: add it to INSTALLED_APPS.")
    return _requester_provider(requester)
