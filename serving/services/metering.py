"""Metering: a call holds its worst case from the payer, is charged what it used (to the
model's owner, less the platform fee) and releases the rest; a call that produced nothing
is charged nothing. Each step is one ledger transfer named after the call, so it happens
once however often it is asked for."""

import math
from dataclasses import dataclass
from datetime import timedelta

from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone

from core import sql as core_sql
from labeling.models import Requester
from payouts import ledger
from payouts.errors import InsufficientBalance
from payouts.models import Transfer

from .. import accounts
from .. import sql as serving_sql
from ..errors import BalanceTooLow
from ..models import L402Token, ServedCall, ServedModel


class CreditExhausted(Exception):
    """The L402 credit (or its spending cap) does not cover the call: a fresh challenge."""


@dataclass(frozen=True)
class Payer:
    """Who pays a call: a requester's balance (Bearer), or an L402 token's credit."""

    requester_id: int | None = None
    token_id: int | None = None
    spend_cap_msat: int = 0  # L402: the tightest cap of the macaroon's caveats

    @classmethod
    def of(
        cls,
        requester: Requester | None = None,
        token: L402Token | None = None,
        spend_cap_msat: int = 0,
    ) -> "Payer":
        return cls(requester and requester.id, token and token.id, spend_cap_msat)

    def funds(self) -> ledger.AccountRef:
        if self.token_id is not None:
            return accounts.l402_credit(self.token_id)
        assert self.requester_id is not None
        return ledger.requester_available(self.requester_id)

    def held(self) -> ledger.AccountRef:
        assert self.requester_id is not None  # an L402 hold is counted on the token's row
        return accounts.requester_held(self.requester_id)


def chat_price_msat(model: ServedModel, *, prompt_tokens: int, completion_tokens: int) -> int:
    per_thousand = (
        prompt_tokens * model.price_msat_per_1k_input
        + completion_tokens * model.price_msat_per_1k_output
    )
    return math.ceil(per_thousand / 1000)


def reward_price_msat(model: ServedModel, *, responses: int) -> int:
    return responses * model.price_msat_per_response


def reserve_call(
    *, served_model: ServedModel, payer: Payer, worst_msat: int, model_text: str | None = None
) -> ServedCall:
    """Holds the call's worst case; BalanceTooLow (Bearer) or CreditExhausted (L402) when the
    payer cannot cover it. Decided by conditional UPDATEs, so concurrent calls never overdraw.
    `model_text` (PostgreSQL, L402): the model's row as read, which the hold checks is still
    the model's (CreditExhausted otherwise).

    A requester's hold is a ledger transfer (its balance also pays for batches). An L402
    credit pays for calls only: its hold is counted on the token's row, by one UPDATE that
    also checks the credit and the macaroon's spending cap, and its ledger account is
    debited only by the charge."""
    call = ServedCall(
        served_model=served_model,
        requester_id=payer.requester_id,
        token_id=payer.token_id,
        reserved_msat=worst_msat,
        created_at=timezone.now(),
    )
    if payer.token_id is not None and connection.vendor == "postgresql":
        # One statement, atomic by itself: one round trip before the engine is called
        # instead of four (BEGIN, the hold, the call's row, COMMIT).
        if not serving_sql.hold_credit_for_call(
            call=call, spend_cap_msat=payer.spend_cap_msat, model_text=model_text
        ):
            raise CreditExhausted()
        return call
    with transaction.atomic():
        if payer.token_id is not None and not serving_sql.hold_credit(
            token_id=payer.token_id, worst_msat=worst_msat, spend_cap_msat=payer.spend_cap_msat
        ):
            raise CreditExhausted()
        core_sql.insert(call)
        if worst_msat and payer.requester_id is not None:
            try:
                ledger.transfer(
                    kind=Transfer.Kind.CALL_HOLD,
                    reference=f"call:{call.id}",
                    legs=[(payer.funds(), -worst_msat), (payer.held(), worst_msat)],
                )
            except InsufficientBalance:
                raise BalanceTooLow() from None
    return call


def settle_call(
    *,
    call: ServedCall,
    owner_id: int,
    delivered: bool,
    charge_msat: int = 0,
    prompt_tokens: int = 0,
    completion_tokens: int = 0,
) -> bool:
    """Charges `charge_msat` (never more than was held) and releases the rest; a call that
    delivered nothing is charged nothing. Once per call: False if it was already settled."""
    charge_msat = max(0, min(charge_msat, call.reserved_msat)) if delivered else 0
    fee_msat = charge_msat * settings.SERVING_PLATFORM_FEE_PPM // 1_000_000
    status = ServedCall.Status.CHARGED if delivered else ServedCall.Status.FAILED
    settlement = serving_sql.Settlement(
        call_id=call.id,
        token_id=call.token_id,
        reserved_msat=call.reserved_msat,
        status=status,
        charged_msat=charge_msat,
        fee_msat=fee_msat,
        prompt_tokens=prompt_tokens,
        completion_tokens=completion_tokens,
        finished_at=timezone.now(),
    )
    payer = Payer(call.requester_id, call.token_id)
    owner = ledger.requester_available(owner_id)
    if call.token_id is not None:
        legs = [(payer.funds(), -charge_msat)]  # the hold was on the token's row only
    else:
        legs = [
            (payer.held(), -call.reserved_msat),
            (payer.funds(), call.reserved_msat - charge_msat),
        ]
    legs += [(owner, charge_msat - fee_msat), (ledger.FEES, fee_msat)]
    moves = any(amount for _, amount in legs)
    reference = f"call:{call.id}"
    settled = None
    if moves and connection.vendor == "postgresql":
        guard, params = serving_sql.finish_call_guard(settlement)
        settled = ledger.transfer_after(
            guard=guard,
            guard_params=params,
            kind=Transfer.Kind.CALL_SETTLE,
            reference=reference,
            legs=legs,
        )
    if settled is None:  # elsewhere, or an account to open first
        with transaction.atomic():
            settled = serving_sql.finish_call(settlement)
            if settled and moves:
                ledger.transfer(kind=Transfer.Kind.CALL_SETTLE, reference=reference, legs=legs)
    if settled:
        call.status, call.charged_msat, call.fee_msat = status, charge_msat, fee_msat
    return settled


def release_stale_calls(*, limit: int = 500) -> int:
    """Calls still holding money long after they began (their web process died): released
    with nothing charged. The periodic job `serving.release_stale_calls` runs this."""
    before = timezone.now() - timedelta(seconds=settings.SERVING_STALE_CALL_SECONDS)
    stale = ServedCall.objects.filter(status=ServedCall.Status.RESERVED, created_at__lt=before)
    released = 0
    for call in stale.select_related("served_model")[:limit]:
        released += settle_call(call=call, owner_id=call.served_model.owner_id, delivered=False)
    return released
