"""Payouts' hand-written statements: the ledger's balance moves and the withdrawal
state changes on every payout (see core.sql)."""

from datetime import datetime

from core import sql

from .models import Account, Entry, Withdrawal


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
