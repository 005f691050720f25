"""Serving's ledger accounts: an L402 token's prepaid credit, and what a requester's calls
in progress hold."""

from payouts.ledger import AccountRef
from payouts.models import Account


def l402_credit(token_id: int) -> AccountRef:
    return AccountRef(f"l402:{token_id}:credit", Account.Kind.SERVING_CREDIT)


def requester_held(requester_id: int) -> AccountRef:
    return AccountRef(
        f"requester:{requester_id}:serving_held",
        Account.Kind.SERVING_HELD,
        (("requester_id", requester_id),),
    )
