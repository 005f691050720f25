"""L402: challenges (a macaroon and an invoice that buys prepaid credit for one model),
credentials (`L402 <macaroon>:<preimage>`, or the older `LSAT` scheme), and the credit a
paid token carries. The first valid credential of a token credits it, once."""

import secrets
from dataclasses import dataclass
from datetime import timedelta

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from core import sql as core_sql
from payouts import ledger
from payouts.lightning import NodeError, get_backend
from payouts.models import Transfer

from .. import accounts, macaroons
from .. import sql as serving_sql
from ..errors import BadCall, BadCredentials, NodeUnavailable
from ..models import L402Token, ServedModel
from . import rowcache

SCHEMES = ("L402", "LSAT")


@dataclass(frozen=True)
class Challenge:
    token: L402Token
    macaroon: str

    def www_authenticate(self) -> list[str]:
        fields = f'macaroon="{self.macaroon}", invoice="{self.token.bolt11}"'
        return [f"{scheme} {fields}" for scheme in SCHEMES]


@dataclass(frozen=True)
class Credential:
    token: L402Token
    limits: macaroons.Limits


def credit_amount(requested: str | None) -> int:
    """The credit a challenge sells: the default, or `?credit_msat=` up to the maximum."""
    if requested is None or requested == "":
        return settings.SERVING_L402_CREDIT_MSAT
    top = settings.SERVING_L402_MAX_CREDIT_MSAT
    # Whole sats: not every node's invoices carry msat.
    if (
        not requested.isascii()
        or not requested.isdigit()
        or not 1_000 <= int(requested) <= top
        or int(requested) % 1000
    ):
        raise BadCall(f"credit_msat is a whole number of sats in msat, from 1000 to {top}.")
    return int(requested)


def issue_challenge(*, served_model: ServedModel, credit_msat: int) -> Challenge:
    now = timezone.now()
    try:
        invoice = get_backend().create_invoice(
            amount_msat=credit_msat,
            memo=f"Credit for {served_model.name} (RLHF marketplace)",
            expiry_seconds=settings.SERVING_L402_INVOICE_EXPIRY_SECONDS,
        )
    except NodeError as exc:
        raise NodeUnavailable() from exc
    token = core_sql.insert(
        L402Token(
            token_id=secrets.token_hex(32),
            root_key=secrets.token_bytes(32),
            served_model=served_model,
            payment_hash=invoice.payment_hash,
            bolt11=invoice.bolt11,
            amount_msat=credit_msat,
            created_at=now,
            expires_at=now + timedelta(seconds=settings.SERVING_L402_TTL_SECONDS),
        )
    )
    macaroon = macaroons.mint(
        location=settings.PUBLIC_BASE_URL,
        root_key=bytes(token.root_key),
        payment_hash=bytes.fromhex(token.payment_hash),
        token_id=bytes.fromhex(token.token_id),
        service=served_model.name,
        expires_at=int(token.expires_at.timestamp()),
        spend_cap_msat=credit_msat,
    )
    return Challenge(token=token, macaroon=macaroon)


def parse_authorization(value: str) -> tuple[str, str] | None:
    """(macaroon, preimage) from `L402 <macaroon>[,<macaroon>…]:<preimage>`; None if the
    header is not an L402/LSAT credential."""
    scheme, _, rest = value.strip().partition(" ")
    if scheme.upper() not in SCHEMES:
        return None
    macaroon_part, colon, preimage = rest.strip().rpartition(":")
    if not colon or not macaroon_part or not preimage:
        raise BadCredentials("An L402 credential is `L402 <macaroon>:<hex preimage>`.")
    # Several macaroons may be sent; the first is the token (as Aperture reads it).
    return macaroon_part.split(",")[0].strip(), preimage.strip()


def token_id_in(macaroon: str) -> str | None:
    """The token a macaroon names, unverified (to read its row early); None if unreadable."""
    try:
        return macaroons.identifier_of(macaroons.parse(macaroon)).token_id.hex()
    except macaroons.InvalidMacaroon:
        return None


def authenticate(*, macaroon: str, preimage: str, token: L402Token | None = None) -> Credential:
    """The paid token a credential names, with the limits its caveats leave; BadCredentials
    (401) for anything forged, altered, widened, expired or unpaid. `token`: its row if
    already read (it is read here otherwise)."""
    try:
        parsed = macaroons.parse(macaroon)
        identifier = macaroons.identifier_of(parsed)
        if token is None or token.token_id != identifier.token_id.hex():
            token = serving_sql.token(token_id=identifier.token_id.hex())
        if token is None:
            raise macaroons.InvalidMacaroon("Unknown token.")
        now = timezone.now()
        limits = macaroons.verify(parsed, root_key=bytes(token.root_key), now=int(now.timestamp()))
    except macaroons.InvalidMacaroon as exc:
        raise BadCredentials(str(exc)) from exc
    if token.expires_at <= now:
        raise BadCredentials("The token has expired.")
    if not macaroons.preimage_matches(preimage, identifier.payment_hash):
        raise BadCredentials("The preimage does not match the invoice's payment hash.")
    if token.paid_at is None and credit_token(token=token):
        rowcache.keep_token(token)  # paid now: the next call need not read it
    return Credential(token=token, limits=limits)


def credit_token(*, token: L402Token) -> bool:
    """The token's invoice was paid (its preimage is known): credit it, exactly once."""
    now = timezone.now()
    with transaction.atomic():
        if not L402Token.objects.filter(id=token.id, paid_at__isnull=True).update(paid_at=now):
            return False
        ledger.transfer(
            kind=Transfer.Kind.L402_CREDIT,
            reference=f"l402:{token.id}",
            legs=[
                (ledger.LIGHTNING_IN, -token.amount_msat),
                (accounts.l402_credit(token.id), token.amount_msat),
            ],
        )
    token.paid_at = now
    return True
