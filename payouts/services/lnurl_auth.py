"""Wallet login (LNURL-auth, LUD-04): a k1 to sign, the wallet's signed callback, and the
browser's poll. The first login creates the worker and opens its ledger accounts.

Signatures are DER secp256k1 over the raw 32 bytes of k1 (no extra hashing), as wallets
sign them.
"""

import secrets
from dataclasses import dataclass
from datetime import timedelta
from urllib.parse import urlencode

import lnurl
from coincurve import PublicKey
from django.conf import settings
from django.contrib.auth import get_user_model
from django.db import IntegrityError, transaction
from django.urls import reverse
from django.utils import timezone
from rest_framework.authtoken.models import Token

from labeling.models import Worker

from .. import ledger
from ..models import LoginChallenge


class LoginRefused(Exception):
    """The wallet's callback is refused; the message is the LNURL ERROR reason."""


@dataclass(frozen=True)
class LoginOffer:
    k1: str
    url: str
    lnurl: str
    expires_at: object


def callback_url(k1: str) -> str:
    query = urlencode({"tag": "login", "k1": k1, "action": "login"})
    return f"{settings.PUBLIC_BASE_URL}{reverse('lnurl-auth-callback')}?{query}"


def create_challenge() -> LoginOffer:
    now = timezone.now()
    challenge = LoginChallenge.objects.create(
        k1=secrets.token_hex(32),
        created_at=now,
        expires_at=now + timedelta(seconds=settings.LNURL_AUTH_TTL_SECONDS),
    )
    url = callback_url(challenge.k1)
    return LoginOffer(
        k1=challenge.k1, url=url, lnurl=lnurl.url_encode(url), expires_at=challenge.expires_at
    )


def signature_is_valid(*, k1: str, sig: str, key: str) -> bool:
    try:
        public_key = PublicKey(bytes.fromhex(key))
        return public_key.verify(bytes.fromhex(sig), bytes.fromhex(k1), hasher=None)
    except (ValueError, TypeError):
        return False


def _is_hex(value: str, length: int | None = None) -> bool:
    try:
        raw = bytes.fromhex(value)
    except (ValueError, TypeError):
        return False
    return length is None or len(raw) == length


def worker_for_key(linking_key: str) -> Worker:
    """The worker behind a linking key; the first login creates it (and its user)."""
    worker = Worker.objects.filter(linking_key=linking_key).first()
    if worker is not None:
        return worker
    try:
        with transaction.atomic():
            user = get_user_model().objects.create_user(username=f"ln_{linking_key[:24]}")
            user.set_unusable_password()
            user.save(update_fields=["password"])
            worker = Worker.objects.create(user=user, linking_key=linking_key)
            # Opened up front so that paying a rating is a fixed few UPDATEs and INSERTs.
            ledger.open_accounts(
                ledger.worker_available(worker.id),
                ledger.worker_held(worker.id),
                ledger.worker_pending(worker.id),
            )
            return worker
    except IntegrityError:  # the same wallet logging in twice at once
        return Worker.objects.get(linking_key=linking_key)


def verify_login(*, k1: str, sig: str, key: str) -> Worker:
    """Checks the wallet's signature and marks the k1 used. Raises LoginRefused."""
    if not _is_hex(k1, 32):
        raise LoginRefused("k1 must be 32 bytes of hex.")
    if not _is_hex(key, 33) or key[:2] not in ("02", "03"):
        raise LoginRefused("key must be a 33-byte compressed public key in hex.")
    if not _is_hex(sig) or not signature_is_valid(k1=k1, sig=sig, key=key):
        raise LoginRefused("Bad signature.")
    challenge = LoginChallenge.objects.filter(k1=k1).first()
    if challenge is None:
        raise LoginRefused("Unknown k1.")
    now = timezone.now()
    if challenge.expires_at <= now:
        raise LoginRefused("This login code expired; reload the page for a new one.")
    key = key.lower()
    with transaction.atomic():
        worker = worker_for_key(key)
        # Single use, decided by the database: only one callback flips signed_at.
        used = LoginChallenge.objects.filter(id=challenge.id, signed_at__isnull=True).update(
            worker=worker, signed_at=now
        )
        if not used:
            raise LoginRefused("This login code was already used.")
    return worker


def poll(*, k1: str) -> Worker | None:
    """The worker who signed this k1, None while nobody has. Raises LookupError if unknown."""
    challenge = LoginChallenge.objects.select_related("worker__user").filter(k1=k1).first()
    if challenge is None or challenge.expires_at <= timezone.now():
        raise LookupError(k1)
    return challenge.worker


def token_for(worker: Worker) -> str:
    token, _ = Token.objects.get_or_create(user=worker.user)
    return token.key
