"""Payouts' hand-written statements: the ledger's balance moves and the withdrawal
state changes on every payout (see core.sql)."""

from datetime import datetime
from typing import Any

from core import sql

from .models import Account, Entry, Transfer, Withdrawal


def add_to_balance(*, key: str, amount_msat: int, floor_msat: int, ceiling_msat: int) -> int:
    """balance += amount, if the new balance stays within [floor, ceiling]; returns the rows
    changed. The bounds are part of the UPDATE, decided by the database, and compared on the
    old balance so that no intermediate value leaves the 64-bit range."""
    return sql.execute(
        f"UPDATE {sql.table(Account)} SET balance_msat = balance_msat + %s"
        " WHERE key = %s AND balance_msat >= %s AND balance_msat <= %s",
        [amount_msat, key, _int64(floor_msat - amount_msat), _int64(ceiling_msat - amount_msat)],
    )


def _int64(value: int) -> int:
    """A bound beyond the 64-bit range holds for every balance: clamp it (SQLite cannot bind
    it otherwise)."""
    return max(-(2**63), min(value, 2**63 - 1))


def insert_entries(*, transfer_id: int, entries: list[tuple[str, int]]) -> None:
    """The transfer's (account key, amount) legs, in one INSERT."""
    sql.execute(
        f"INSERT INTO {sql.table(Entry)} (transfer_id, account_id, amount_msat) VALUES "
        + ", ".join(["(%s, %s, %s)"] * len(entries)),
        [value for key, amount in entries for value in (transfer_id, key, amount)],
    )


def transfer_after(
    *,
    guard: str,
    guard_params: list[Any],
    transfer: list[Any],
    legs: list[tuple[str, int, int, int]],
) -> int | None:
    """PostgreSQL, one statement: the common table expressions `guard` (the last one named
    `guard`, a data-modifying statement … RETURNING), then, if it changed a row, a transfer
    (kind, reference, amount_msat, created_at), its entries and the balance moves `legs`
    (key, amount, floor, ceiling; bounds as in `add_to_balance`). Returns the transfer's id,
    or None when the guard changed nothing. A balance that cannot move (its account is
    missing, a bound is crossed) fails the whole statement with a division by zero
    (DataError), so nothing is written.

    Each balance UPDATE waits for the one before it, so rows are locked in the order of
    `legs`: the ledger's lock order."""
    transfers, accounts = sql.table(Transfer), sql.table(Account)
    parts = [
        guard,
        f"moved AS (INSERT INTO {transfers} (kind, reference, amount_msat, batch_id, created_at)"
        " SELECT %s, %s, %s, NULL, CAST(%s AS timestamptz) WHERE EXISTS (SELECT 1 FROM guard)"
        " RETURNING id)",
        f"entries AS (INSERT INTO {sql.table(Entry)} (transfer_id, account_id, amount_msat)"
        " SELECT moved.id, legs.k, legs.a FROM moved, (VALUES "
        + ", ".join(["(CAST(%s AS text), CAST(%s AS bigint))"] * len(legs))
        + ") AS legs (k, a))",
    ]
    params: list[Any] = [*guard_params, *transfer]
    params += [value for key, amount, _, _ in legs for value in (key, amount)]
    before = "moved"
    for i, (key, amount, floor, ceiling) in enumerate(legs):
        parts.append(
            f"moved{i} AS (UPDATE {accounts} SET balance_msat = balance_msat + %s"
            " WHERE key = %s AND balance_msat >= %s AND balance_msat <= %s"
            f" AND EXISTS (SELECT 1 FROM {before}) RETURNING 1)"
        )
        params += [amount, key, _int64(floor - amount), _int64(ceiling - amount)]
        before = f"moved{i}"
    row = sql.fetch(
        "WITH " + ", ".join(parts) + " SELECT (SELECT id FROM moved),"
        # 1/0 when the transfer was written but its last balance did not move.
        f" 1 / (CASE WHEN EXISTS (SELECT 1 FROM moved) AND NOT EXISTS (SELECT 1 FROM {before})"
        " THEN 0 ELSE 1 END)",
        params,
    )
    assert row is not None
    return row[0]


def balance(*, key: str) -> int:
    row = sql.fetch(f"SELECT balance_msat FROM {sql.table(Account)} WHERE key = %s", [key])
    return row[0] if row else 0


def withdrawal_by_k1(*, k1: str) -> Withdrawal | None:
    row = sql.fetch(
        f"SELECT {sql.columns(Withdrawal, 'w')} FROM {sql.table(Withdrawal)} w WHERE w.k1 = %s",
        [k1],
    )
    return sql.from_row(Withdrawal, row)[0] if row else None


def enter_paying(*, withdrawal_id: int, bolt11: str, payment_hash: str, now: datetime) -> int:
    """open → paying, once, for an unexpired withdrawal; returns the rows changed."""
    return sql.execute(
        f"UPDATE {sql.table(Withdrawal)} SET status = %s, bolt11 = %s, payment_hash = %s,"
        " invoice_accepted_at = %s WHERE id = %s AND status = %s AND expires_at > %s",
        [
            Withdrawal.Status.PAYING,
            bolt11,
            payment_hash,
            now,
            withdrawal_id,
            Withdrawal.Status.OPEN,
            now,
        ],
    )


def claim_send(*, withdrawal_id: int, now: datetime) -> Withdrawal | None:
    """Claims the one send of a `paying` withdrawal; None if another run claimed it."""
    table = sql.table(Withdrawal)
    row = sql.fetch(
        f"UPDATE {table} SET send_started_at = %s"
        " WHERE id = %s AND status = %s AND send_started_at IS NULL"
        f" RETURNING {sql.columns(Withdrawal, table)}",
        [now, withdrawal_id, Withdrawal.Status.PAYING],
    )
    return sql.from_row(Withdrawal, row)[0] if row else None


def mark_paid(*, withdrawal_id: int, fee_msat: int, preimage: str, now: datetime) -> int:
    """paying → paid, once; returns the rows changed."""
    return sql.execute(
        f"UPDATE {sql.table(Withdrawal)} SET status = %s, fee_msat = %s, preimage = %s,"
        " finished_at = %s WHERE id = %s AND status = %s",
        [Withdrawal.Status.PAID, fee_msat, preimage, now, withdrawal_id, Withdrawal.Status.PAYING],
    )
