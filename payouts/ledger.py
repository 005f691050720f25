"""The double-entry ledger: `transfer()` is the one function that moves money.

A transfer is a set of entries summing to zero. The accounts' cached balances change in
the same transaction through conditional UPDATEs (debits refuse to overdraw), applied in
account-key order so that two transfers never lock the same rows in opposite orders.
"""

from collections.abc import Iterable
from contextlib import nullcontext
from dataclasses import dataclass
from typing import Any

from django.db import DataError, connection, transaction
from django.db.models import Count, F, Q, Sum
from django.utils import timezone

from core import sql as core_sql

from . import sql
from .errors import BalanceOutOfRange, InsufficientBalance
from .models import Account, Entry, Transfer, Withdrawal

MAX_AMOUNT_MSAT = 2_100_000_000_000_000_000  # 21M BTC: anything above is not money
# Every balance stays a 64-bit integer on every database (SQLite would turn an overflowing
# integer into a float; PostgreSQL would refuse the statement).
MAX_BALANCE_MSAT = 2**63 - 1


@dataclass(frozen=True)
class AccountRef:
    """Names an account without reading it; `fields` are used only to create it."""

    key: str
    kind: str
    fields: tuple[tuple[str, int], ...] = ()
    allow_negative: bool = False


def requester_available(requester_id: int) -> AccountRef:
    return AccountRef(
        f"requester:{requester_id}:available",
        Account.Kind.REQUESTER_AVAILABLE,
        (("requester_id", requester_id),),
    )


def batch_reserved(batch_id: int) -> AccountRef:
    return AccountRef(
        f"batch:{batch_id}:reserved", Account.Kind.BATCH_RESERVED, (("batch_id", batch_id),)
    )


def worker_pending(worker_id: int) -> AccountRef:
    return AccountRef(
        f"worker:{worker_id}:pending", Account.Kind.WORKER_PENDING, (("worker_id", worker_id),)
    )


def worker_available(worker_id: int) -> AccountRef:
    return AccountRef(
        f"worker:{worker_id}:available",
        Account.Kind.WORKER_AVAILABLE,
        (("worker_id", worker_id),),
    )


def worker_held(worker_id: int) -> AccountRef:
    return AccountRef(
        f"worker:{worker_id}:held", Account.Kind.WORKER_HELD, (("worker_id", worker_id),)
    )


LIGHTNING_IN = AccountRef("system:lightning_in", Account.Kind.LIGHTNING_IN, allow_negative=True)
LIGHTNING_OUT = AccountRef("system:lightning_out", Account.Kind.LIGHTNING_OUT, allow_negative=True)
FEES = AccountRef("system:fees", Account.Kind.FEES, allow_negative=True)


def _ensure(account: AccountRef) -> None:
    Account.objects.get_or_create(
        key=account.key,
        defaults={
            "kind": account.kind,
            "allow_negative": account.allow_negative,
            **dict(account.fields),
        },
    )


def open_accounts(*accounts: AccountRef) -> None:
    Account.objects.bulk_create(
        [
            Account(key=a.key, kind=a.kind, allow_negative=a.allow_negative, **dict(a.fields))
            for a in accounts
        ],
        ignore_conflicts=True,
    )


def _apply(account: AccountRef, amount_msat: int) -> None:
    # The overdraft check is part of the UPDATE: decided by the database, not by Python.
    floor_msat = _floor(account)
    if _add(account.key, amount_msat, floor_msat):
        return
    if amount_msat < 0 and not account.allow_negative:
        raise InsufficientBalance()
    _ensure(account)  # its first credit (or a system account's first debit)
    if not _add(account.key, amount_msat, floor_msat):
        raise BalanceOutOfRange()


def _floor(account: AccountRef) -> int:
    return -MAX_BALANCE_MSAT if account.allow_negative else 0


def _add(key: str, amount_msat: int, floor_msat: int = -MAX_BALANCE_MSAT) -> int:
    # Plain SQL: it runs on every paid rating, where the ORM's statement building shows.
    return sql.add_to_balance(
        key=key, amount_msat=amount_msat, floor_msat=floor_msat, ceiling_msat=MAX_BALANCE_MSAT
    )


def transfer(
    *,
    kind: str,
    reference: str,
    legs: Iterable[tuple[AccountRef, int]],
    batch_id: int | None = None,
) -> Transfer:
    """Moves money between accounts; raises InsufficientBalance (nothing moved) if a debit
    would overdraw. (kind, reference) is unique: the same event cannot move money twice."""
    totals, accounts = _totals(legs)
    if connection.in_atomic_block:
        return _write(kind, reference, totals, accounts, batch_id)
    with transaction.atomic():
        return _write(kind, reference, totals, accounts, batch_id)


def transfer_after(
    *,
    guard: str,
    guard_params: list[Any],
    kind: str,
    reference: str,
    legs: Iterable[tuple[AccountRef, int]],
) -> bool | None:
    """PostgreSQL: the data-modifying statement `guard` and, if it changed a row, the
    transfer, in one statement (one round trip, atomic by itself). True: both done; False:
    the guard changed nothing, nothing written. None, nothing written: an account is not
    opened yet or a debit would overdraw; run the guard and `transfer()`, which open it or
    say which (see payouts.sql.transfer_after for `guard`)."""
    totals, accounts = _totals(legs)
    moves = [
        (key, totals[key], _floor(accounts[key]), MAX_BALANCE_MSAT)
        for key in sorted(totals, key=lock_order)
    ]
    amount = sum(amount for amount in totals.values() if amount > 0)
    try:
        # Inside a caller's transaction a savepoint keeps the refusal from ending it.
        with transaction.atomic() if connection.in_atomic_block else nullcontext():
            moved = sql.transfer_after(
                guard=guard,
                guard_params=guard_params,
                transfer=[kind, reference, amount, timezone.now()],
                legs=moves,
            )
    except DataError:
        return None
    return moved is not None


def _totals(legs: Iterable[tuple[AccountRef, int]]) -> tuple[dict[str, int], dict[str, AccountRef]]:
    """Net amount per account key (zero nets left out), checked: integers, in range,
    summing to zero, moving something."""
    totals: dict[str, int] = {}
    accounts: dict[str, AccountRef] = {}
    for account, amount_msat in legs:
        if not isinstance(amount_msat, int) or isinstance(amount_msat, bool):
            raise TypeError("Amounts are integer msat.")
        if not -MAX_AMOUNT_MSAT <= amount_msat <= MAX_AMOUNT_MSAT:
            raise BalanceOutOfRange()
        totals[account.key] = totals.get(account.key, 0) + amount_msat
        accounts[account.key] = account
    if sum(totals.values()) != 0:
        raise ValueError(f"A transfer must sum to zero: {totals}")
    totals = {key: amount for key, amount in totals.items() if amount}
    if not totals:
        raise ValueError("A transfer must move some money.")
    return totals, accounts


def _write(
    kind: str,
    reference: str,
    totals: dict[str, int],
    accounts: dict[str, AccountRef],
    batch_id: int | None,
) -> Transfer:
    # The rows go in first and the balances last, shared accounts (a batch's reservation,
    # a requester's balance, system accounts) after a worker's own: a paid rating then holds
    # the hot row only for its final statement. Every transfer takes this one lock order.
    moved = core_sql.insert(
        Transfer(
            kind=kind,
            reference=reference,
            amount_msat=sum(amount for amount in totals.values() if amount > 0),
            batch_id=batch_id,
            created_at=timezone.now(),
        )
    )
    sql.insert_entries(transfer_id=moved.id, entries=sorted(totals.items()))
    # No savepoint of its own (it would cost two statements on every paid rating): a
    # refused debit undoes what was written, so the caller's transaction stays usable.
    applied: list[str] = []
    try:
        for key in sorted(totals, key=lock_order):
            _apply(accounts[key], totals[key])
            applied.append(key)
    except (InsufficientBalance, BalanceOutOfRange):
        for key in applied:
            _add(key, -totals[key])
        Entry.objects.filter(transfer=moved).delete()
        moved.delete()
        raise
    return moved


def lock_order(key: str) -> tuple[bool, str]:
    """Workers' own accounts first, shared ones last; by key within each group."""
    return (not key.startswith("worker:"), key)


def balance_msat(account: AccountRef) -> int:
    return sql.balance(key=account.key)


# --- invariants (check_ledger, the test fixture) ---------------------------------------


def problems() -> list[str]:
    """Every breach of the ledger's invariants, as readable lines (empty when sound)."""
    found = []
    unbalanced = (
        Entry.objects.values("transfer_id")
        .annotate(total=Sum("amount_msat"), legs=Count("id"))
        .filter(~Q(total=0) | Q(legs__lt=2))
    )
    for row in unbalanced[:20]:
        found.append(
            f"transfer {row['transfer_id']}: entries sum to {row['total']} over {row['legs']} legs"
        )
    empty = Transfer.objects.filter(entries__isnull=True).values_list("id", flat=True)[:20]
    found.extend(f"transfer {transfer_id} has no entries" for transfer_id in empty)
    drifted = Account.objects.annotate(entries_sum=Sum("entries__amount_msat", default=0)).exclude(
        balance_msat=F("entries_sum")
    )
    for account in drifted[:20]:
        found.append(
            f"account {account.key}: cached balance {account.balance_msat} "
            f"!= entries {account.entries_sum}"
        )
    overdrawn = Account.objects.filter(allow_negative=False, balance_msat__lt=0)
    found.extend(f"account {a.key} is overdrawn: {a.balance_msat}" for a in overdrawn[:20])
    # Summed in Python: a database SUM over balances near the 64-bit limit could overflow.
    total = sum(Account.objects.values_list("balance_msat", flat=True).iterator())
    if total != 0:
        found.append(f"all balances sum to {total}, not 0")
    found.extend(_withdrawal_problems())
    return found


def _withdrawal_problems() -> list[str]:
    held = dict(
        Account.objects.filter(kind=Account.Kind.WORKER_HELD).values_list(
            "worker_id", "balance_msat"
        )
    )
    owed = dict(
        Withdrawal.objects.filter(status__in=[Withdrawal.Status.OPEN, Withdrawal.Status.PAYING])
        .values("worker_id")
        .annotate(total=Sum("amount_msat"))
        .values_list("worker_id", "total")
    )
    return [
        f"worker {worker_id}: held {held.get(worker_id, 0)} != open withdrawals "
        f"{owed.get(worker_id, 0)}"
        for worker_id in set(held) | set(owed)
        if held.get(worker_id, 0) != owed.get(worker_id, 0)
    ]
