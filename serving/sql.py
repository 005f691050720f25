"""Serving's hand-written statements: the lookups, the hold and the settle that run on
every metered call, where the ORM's statement building is a good part of the gateway's
cost (see core.sql)."""

from dataclasses import dataclass
from datetime import datetime

from django.db import connection

from core import sql

from .models import L402Token, ServedCall, ServedModel


def published_model(
    *, name: str, token_id: str | None = None
) -> tuple[ServedModel | None, L402Token | None, str | None]:
    """The published model of that name and, in the same SELECT, the L402 token `token_id`
    (whatever model it is for: the credential's checks say whether it may pay this call);
    on PostgreSQL also the model's row as text, which `hold_credit_for_call` can compare."""
    text = ", m::text" if connection.vendor == "postgresql" else ""
    row = sql.fetch(
        f"SELECT {sql.columns(ServedModel, 'm')}, {sql.columns(L402Token, 't')}{text}"
        f" FROM {sql.table(ServedModel)} m LEFT JOIN {sql.table(L402Token)} t"
        " ON t.token_id = %s WHERE m.name = %s AND m.published",
        [token_id, name],
    )
    if row is None:
        return None, None, None
    model, end = sql.from_row(ServedModel, row)
    token, end = sql.from_row(L402Token, row, end)
    return model, token, row[end] if text else None


def token(*, token_id: str) -> L402Token | None:
    row = sql.fetch(
        f"SELECT {sql.columns(L402Token, 't')} FROM {sql.table(L402Token)} t WHERE t.token_id = %s",
        [token_id],
    )
    return None if row is None else sql.from_row(L402Token, row)[0]


HOLD_CREDIT = (
    f"UPDATE {sql.table(L402Token)} SET held_msat = held_msat + %s"
    " WHERE id = %s AND paid_at IS NOT NULL"
    " AND spent_msat <= %s - %s - held_msat AND spent_msat <= amount_msat - %s - held_msat"
)


def _hold_params(token_id: int, worst_msat: int, spend_cap_msat: int) -> list[int]:
    return [worst_msat, token_id, spend_cap_msat, worst_msat, worst_msat]


def hold_credit(*, token_id: int, worst_msat: int, spend_cap_msat: int) -> int:
    """held += worst, if the paid credit and the macaroon's cap both still cover it once
    the calls in progress are counted; returns the rows changed (decided by the database)."""
    return sql.execute(HOLD_CREDIT, _hold_params(token_id, worst_msat, spend_cap_msat))


# The hold alone commits without waiting for its WAL flush (asynchronous commit, for its
# own transaction). Other calls see it at once, as with any commit; only durability waits,
# and for a moment: a database crash in that moment loses the hold and the call's row
# together, and then the settle finds no call to charge. The settle's commit stays
# synchronous and flushes every record before its own, so a charge is never lost.
ASYNC_COMMIT = " AND (SELECT set_config('synchronous_commit', 'off', true)) = 'off'"


# The model as the call read it is still the model: same prices, owner, engine, published.
SAME_MODEL = f" AND (SELECT m::text FROM {sql.table(ServedModel)} m WHERE m.id = %s) = %s"


def hold_credit_for_call(
    *, call: ServedCall, spend_cap_msat: int, model_text: str | None = None
) -> bool:
    """PostgreSQL: `hold_credit` for the call's token and the call's row, in one statement
    (and only if the model's row is still `model_text`, if given); False, nothing written,
    when the credit does not cover it or the model changed. Committed asynchronously when it
    is its own transaction (see ASYNC_COMMIT)."""
    assert call.token_id is not None
    params = _hold_params(call.token_id, call.reserved_msat, spend_cap_msat)
    changed = HOLD_CREDIT
    if model_text is not None:
        changed += SAME_MODEL
        params += [call.served_model_id, model_text]
    if not connection.in_atomic_block:
        changed += ASYNC_COMMIT
    return sql.insert_if(call, changed=changed + " RETURNING id", params=params)


FINISH_CALL = (
    f"UPDATE {sql.table(ServedCall)} SET status = %s, charged_msat = %s, fee_msat = %s,"
    " prompt_tokens = %s, completion_tokens = %s, finished_at = %s"
    " WHERE id = %s AND status = %s"
)
SPEND_CREDIT = (
    f"UPDATE {sql.table(L402Token)} SET held_msat = held_msat - %s,"
    " spent_msat = spent_msat + %s WHERE id = %s"
)


@dataclass(frozen=True)
class Settlement:
    """How a reserved call ends: its new status, charge and tokens."""

    call_id: int
    token_id: int | None
    reserved_msat: int
    status: str
    charged_msat: int
    fee_msat: int
    prompt_tokens: int
    completion_tokens: int
    finished_at: datetime

    def finish_params(self) -> list[object]:
        return [
            self.status,
            self.charged_msat,
            self.fee_msat,
            self.prompt_tokens,
            self.completion_tokens,
            self.finished_at,
            self.call_id,
            ServedCall.Status.RESERVED,
        ]

    def spend_params(self) -> list[object]:
        return [self.reserved_msat, self.charged_msat, self.token_id]


def finish_call_guard(settlement: Settlement) -> tuple[str, list[object]]:
    """PostgreSQL: `finish_call` as common table expressions, the last named `guard`
    (RETURNING a row when the call is settled now), and their parameters."""
    if settlement.token_id is None:
        return f"guard AS ({FINISH_CALL} RETURNING id)", settlement.finish_params()
    return (
        f"finished AS ({FINISH_CALL} RETURNING id),"
        f" guard AS ({SPEND_CREDIT} AND EXISTS (SELECT 1 FROM finished) RETURNING id)",
        settlement.finish_params() + settlement.spend_params(),
    )


def finish_call(settlement: Settlement) -> bool:
    """Moves a reserved call to its status with its charge and tokens, and for an L402 call
    its token's counters (the hold released, the charge spent); False, nothing written, if
    the call was settled already. Run it in the transaction of the settle's transfer."""
    if connection.vendor == "postgresql":  # one statement: a round trip less per call
        guard, params = finish_call_guard(settlement)
        row = sql.fetch(f"WITH {guard} SELECT count(*) FROM guard", params)
        return bool(row and row[0])
    if not sql.execute(FINISH_CALL, settlement.finish_params()):
        return False
    if settlement.token_id is not None:
        sql.execute(SPEND_CREDIT, settlement.spend_params())
    return True
