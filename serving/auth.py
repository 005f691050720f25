"""Who pays a /v1 call: `Authorization: Bearer <requester API token>` (the requester's
balance) or `L402 <macaroon>:<preimage>` / `LSAT …` (a token's prepaid credit)."""

from rest_framework import exceptions

from core.throttles import AddressRateThrottle
from labeling.auth import TokenAuthentication
from labeling.models import Requester

from .errors import BadCredentials, NotARequester
from .models import L402Token, ServedModel
from .services import l402
from .services.metering import Payer


class ChallengeRateThrottle(AddressRateThrottle):
    """402 challenges (each mints a token and an invoice), per client address."""

    scope = "l402_challenge"
    rate_setting = "SERVING_RATE_LIMIT_CHALLENGES"


def requester_for_bearer(key: str) -> Requester:
    try:
        user, _ = TokenAuthentication().authenticate_credentials(key)
    except exceptions.AuthenticationFailed as exc:
        raise BadCredentials(str(exc.detail)) from exc
    try:
        return user.requester
    except Requester.DoesNotExist:
        raise NotARequester() from None


def l402_credential(header: str, *, token: L402Token | None = None) -> l402.Credential | None:
    """The paid token an L402/LSAT header names; None for any other scheme. `token`: its
    row if already read."""
    parsed = l402.parse_authorization(header)
    if parsed is None:
        return None
    return l402.authenticate(macaroon=parsed[0], preimage=parsed[1], token=token)


def token_id_in(header: str) -> str | None:
    """The L402 token an Authorization header names, unverified: its row is read with the
    model called. None for any other header, or one that does not parse."""
    try:
        parsed = l402.parse_authorization(header)
    except BadCredentials:
        return None
    return None if parsed is None else l402.token_id_in(parsed[0])


def payer_for(
    header: str, *, served_model: ServedModel, token: L402Token | None = None
) -> Payer | None:
    """The payer the header names; None when there is none (answer a challenge). `token`:
    the row of the L402 token it names, if already read."""
    if not header.strip():
        return None
    scheme, _, value = header.strip().partition(" ")
    if scheme.lower() == "bearer":
        if not value.strip():  # an SDK with api_key="": no credential yet, so a challenge
            return None
        return Payer.of(requester=requester_for_bearer(value.strip()))
    credential = l402_credential(header, token=token)
    if credential is None:
        raise BadCredentials(
            "Send `Authorization: Bearer <API token>` or `L402 <macaroon>:<preimage>`."
        )
    if (
        credential.token.served_model_id != served_model.id
        or served_model.name not in credential.limits.services
    ):
        raise BadCredentials("This token is for another model.")
    return Payer.of(token=credential.token, spend_cap_msat=credential.limits.spend_cap_msat)
