"""Reads: the public model list, an L402 token's credit, and the owner's usage per day."""

from datetime import UTC, date, datetime
from typing import Any

from django.db.models import Count, Sum
from django.db.models.functions import TruncDate

from payouts import ledger

from . import accounts
from .macaroons import Limits
from .models import L402Token, ServedCall, ServedModel


def listed_models() -> list[dict[str, Any]]:
    rows = []
    for model in ServedModel.objects.filter(published=True).select_related("owner__user"):
        row: dict[str, Any] = {
            "id": model.name,
            "object": "model",
            "created": int(model.created_at.timestamp()),
            "owned_by": model.owner.user.username,
            "kind": model.kind,
            "max_tokens": model.max_tokens,
        }
        if model.kind == ServedModel.Kind.POLICY:
            row["price_msat_per_1k_input"] = model.price_msat_per_1k_input
            row["price_msat_per_1k_output"] = model.price_msat_per_1k_output
        else:
            row["price_msat_per_response"] = model.price_msat_per_response
        rows.append(row)
    return rows


def credit(*, token: L402Token, limits: Limits) -> dict[str, Any]:
    """What is left: the credit's balance (capped by the macaroon's own spending cap)."""
    token.refresh_from_db(fields=["spent_msat", "held_msat"])
    left = ledger.balance_msat(accounts.l402_credit(token.id))
    # Calls in progress hold part of it (counted on the token's row).
    left = max(0, min(left, limits.spend_cap_msat - token.spent_msat) - token.held_msat)
    expires_at = min(token.expires_at.timestamp(), limits.expires_at)
    return {
        "credit_msat": left,
        "spent_msat": token.spent_msat,
        "expires_at": datetime.fromtimestamp(expires_at, tz=UTC).isoformat().replace("+00:00", "Z"),
        "model": token.served_model.name,
    }


def usage_per_day(*, served_model: ServedModel, days: int = 30) -> list[dict[str, Any]]:
    """Calls, tokens and revenue (the owner's share) per day, oldest first."""
    rows = (
        ServedCall.objects.filter(served_model=served_model, status=ServedCall.Status.CHARGED)
        .annotate(day=TruncDate("created_at"))
        .values("day")
        .annotate(
            calls=Count("id"),
            prompt_tokens=Sum("prompt_tokens"),
            completion_tokens=Sum("completion_tokens"),
            charged_msat=Sum("charged_msat"),
            fee_msat=Sum("fee_msat"),
        )
        .order_by("-day")[:days]
    )
    result = []
    for row in reversed(list(rows)):
        day = row["day"]
        result.append(
            row
            | {
                "day": day if isinstance(day, date) else date.fromisoformat(str(day)),
                "revenue_msat": row["charged_msat"] - row["fee_msat"],
            }
        )
    return result
