"""L402 macaroons (Lightning Labs' spec, as Aperture mints them): the identifier is a
big-endian uint16 version, the invoice's 32-byte payment hash and a 32-byte token id; each
token has its own random root key. First-party caveats bound the token:

    services=<model>:0          the models it may call (a client may list fewer)
    expires_at=<unix seconds>   not valid from then on (a client may set it earlier)
    spend_cap_msat=<int>        the most it may ever be charged (a client may lower it)

A caveat may be repeated only to narrow the one before it; a wider one, an unknown one, or
any change to the chain makes the macaroon invalid. Plain Python: no Django here."""

import base64
import binascii
import hashlib
import hmac
import struct
from dataclasses import dataclass
from functools import lru_cache

from pymacaroons import MACAROON_V2, Macaroon, Verifier
from pymacaroons.exceptions import MacaroonException

VERSION = 0
IDENTIFIER_LENGTH = 2 + 32 + 32


class InvalidMacaroon(Exception):
    """Forged, altered, widened, expired or for something else: the message says which."""


@dataclass(frozen=True)
class Identifier:
    payment_hash: bytes
    token_id: bytes


@dataclass(frozen=True)
class Limits:
    services: frozenset[str]
    expires_at: int
    spend_cap_msat: int


def mint(
    *,
    location: str,
    root_key: bytes,
    payment_hash: bytes,
    token_id: bytes,
    service: str,
    expires_at: int,
    spend_cap_msat: int,
) -> str:
    """The base64 (standard alphabet, as L402 clients expect) of a V2 binary macaroon."""
    identifier = struct.pack(">H", VERSION) + payment_hash + token_id
    macaroon = Macaroon(location=location, identifier=identifier, key=root_key, version=MACAROON_V2)
    macaroon.add_first_party_caveat(f"services={service}:0")
    macaroon.add_first_party_caveat(f"expires_at={expires_at}")
    macaroon.add_first_party_caveat(f"spend_cap_msat={spend_cap_msat}")
    return to_standard_base64(macaroon.serialize())


def to_standard_base64(urlsafe: str) -> str:
    raw = base64.urlsafe_b64decode(urlsafe + "=" * (-len(urlsafe) % 4))
    return base64.b64encode(raw).decode()


# A client sends the same macaroon with every call, and a call reads it twice (its token's
# row is looked up before the credential is checked): parsed once, kept a while. Verifying
# only reads a parsed macaroon.
@lru_cache(maxsize=4096)
def parse(serialized: str) -> Macaroon:
    # Either base64 alphabet, padded or not: clients differ.
    text = serialized.strip().replace("+", "-").replace("/", "_").rstrip("=")
    try:
        raw = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
        return Macaroon.deserialize(base64.urlsafe_b64encode(raw).decode())
    except (
        MacaroonException,
        binascii.Error,
        ValueError,
        TypeError,
        IndexError,
        KeyError,
        struct.error,
    ) as exc:
        raise InvalidMacaroon("The macaroon cannot be decoded.") from exc
    except Exception as exc:  # pymacaroons raises bare errors on some truncations
        raise InvalidMacaroon("The macaroon cannot be decoded.") from exc


def identifier_of(macaroon: Macaroon) -> Identifier:
    raw = macaroon.identifier_bytes
    if len(raw) != IDENTIFIER_LENGTH or struct.unpack(">H", raw[:2])[0] != VERSION:
        raise InvalidMacaroon("Unknown macaroon identifier.")
    return Identifier(payment_hash=raw[2:34], token_id=raw[34:])


def preimage_matches(preimage_hex: str, payment_hash: bytes) -> bool:
    try:
        preimage = bytes.fromhex(preimage_hex)
    except ValueError:
        return False
    return len(preimage) == 32 and hmac.compare_digest(
        hashlib.sha256(preimage).digest(), payment_hash
    )


def verify(macaroon: Macaroon, *, root_key: bytes, now: int) -> Limits:
    """Checks the HMAC chain and the caveats; the limits the token's caveats leave."""
    caveats: list[str] = []

    def collect(condition: str) -> bool:
        caveats.append(condition)
        return True

    verifier = Verifier()
    verifier.satisfy_general(collect)
    try:
        verifier.verify(macaroon, root_key)
    except Exception as exc:  # a bad signature, a third-party caveat, a broken chain
        raise InvalidMacaroon("The macaroon's signature is not valid.") from exc
    return _limits(caveats, now)


def _limits(caveats: list[str], now: int) -> Limits:
    services: frozenset[str] | None = None
    expires_at: int | None = None
    cap: int | None = None
    for condition in caveats:
        key, _, value = condition.partition("=")
        try:
            if key == "services":
                named = frozenset(s.partition(":")[0] for s in value.split(",") if s)
                if services is not None and not named <= services:
                    raise InvalidMacaroon("A caveat widens the services of an earlier one.")
                services = named
            elif key == "expires_at":
                moment = int(value)
                if expires_at is not None and moment > expires_at:
                    raise InvalidMacaroon("A caveat extends the expiry of an earlier one.")
                expires_at = moment
            elif key == "spend_cap_msat":
                amount = int(value)
                if amount < 0 or (cap is not None and amount > cap):
                    raise InvalidMacaroon("A caveat raises the spending cap of an earlier one.")
                cap = amount
            else:
                raise InvalidMacaroon(f"Unknown caveat {key!r}.")
        except ValueError as exc:
            raise InvalidMacaroon(f"Malformed caveat {key!r}.") from exc
    if services is None or expires_at is None or cap is None:
        raise InvalidMacaroon("The macaroon lacks a required caveat.")
    if expires_at <= now:
        raise InvalidMacaroon("The token has expired.")
    return Limits(services=services, expires_at=expires_at, spend_cap_msat=cap)
