"""Wallet login (LNURL-auth, LUD-04): a k1 to sign, the wallet's signed callback, and the
poll that hands the API token, once, to the client that asked for the k1. The first login
creates the worker and opens its ledger accounts. Logout revokes the token (and, "everywhere",
ends every browser session the user signed in with).

Signatures are DER secp256k1 over the raw 32 bytes of k1 (no extra hashing), as wallets
sign them.
"""

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import urlencode

import lnurl
from coincurve import PublicKey
from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.sessions.models import Session
from django.db import IntegrityError, transaction
from django.urls import reverse
from django.utils import timezone
from rest_framework.authtoken.models import Token

from labeling.models import Worker

from .. import ledger
from ..errors import LoginGone, LoginNotFound
from ..models import LoginChallenge, SignedInSession


class LoginRefused(Exception):
    """The wallet's callback is refused; the message is the LNURL ERROR reason."""


@dataclass(frozen=True)
class LoginOffer:
    k1: str
    url: str
    lnurl: str
    expires_at: datetime
    poll_key: str


def callback_url(k1: str) -> str:
    query = urlencode({"tag": "login", "k1": k1, "action": "login"})
    return f"{settings.PUBLIC_BASE_URL}{reverse('lnurl-auth-callback')}?{query}"


def _digest(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def create_challenge(*, session_key: str) -> LoginOffer:
    """A fresh k1, bound to the browser session that asked and to a poll key (for API
    clients); only the key's sha256 is stored."""
    now = timezone.now()
    poll_key = secrets.token_urlsafe(32)
    challenge = LoginChallenge.objects.create(
        k1=secrets.token_hex(32),
        created_at=now,
        expires_at=now + timedelta(seconds=settings.LNURL_AUTH_TTL_SECONDS),
        session_key=session_key,
        poll_key_hash=_digest(poll_key),
    )
    url = callback_url(challenge.k1)
    return LoginOffer(
        k1=challenge.k1,
        url=url,
        lnurl=lnurl.url_encode(url),
        expires_at=challenge.expires_at,
        poll_key=poll_key,
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


def _asked_by(challenge: LoginChallenge, *, session_key: str, poll_key: str) -> bool:
    by_session = bool(session_key) and secrets.compare_digest(challenge.session_key, session_key)
    by_key = bool(poll_key) and secrets.compare_digest(challenge.poll_key_hash, _digest(poll_key))
    return by_session or by_key


def poll(*, k1: str, session_key: str, poll_key: str) -> Worker | None:
    """The worker who signed this k1, None while nobody has; the caller then hands out the
    token. Only the client that asked for the k1 gets an answer, and only once.

    Raises LoginNotFound (unknown or expired k1, or another client) and LoginGone (the token
    was already handed out: to anyone, since the browser's session key changes at login).
    """
    challenge = LoginChallenge.objects.select_related("worker__user").filter(k1=k1).first()
    if challenge is None:
        raise LoginNotFound()
    if challenge.token_issued_at is not None:
        raise LoginGone()
    now = timezone.now()
    if challenge.expires_at <= now or not _asked_by(
        challenge, session_key=session_key, poll_key=poll_key
    ):
        raise LoginNotFound()
    if challenge.worker is None:
        return None
    # Once, decided by the database: of two polls at the same moment, one gets the token.
    issued = LoginChallenge.objects.filter(id=challenge.id, token_issued_at__isnull=True).update(
        token_issued_at=now
    )
    if not issued:
        raise LoginGone()
    return challenge.worker


def token_for(worker: Worker) -> str:
    """The worker's API token; an expired one is replaced."""
    token, created = Token.objects.get_or_create(user=worker.user)
    if not created and token_expired(token.created):
        token.delete()
        token = Token.objects.create(user=worker.user)
    return token.key


def token_expired(created: datetime) -> bool:
    ttl = settings.API_TOKEN_TTL_SECONDS
    return ttl > 0 and created <= timezone.now() - timedelta(seconds=ttl)


def remember_session(*, user: Any, session_key: str) -> None:
    """Called at every sign-in: the session joins the user's list for `sign_out`."""
    SignedInSession.objects.update_or_create(
        session_key=session_key, defaults={"user": user, "created_at": timezone.now()}
    )


def sign_out(*, user: Any, everywhere: bool = False) -> None:
    """Revokes the user's API token; `everywhere` also ends every browser session the user
    signed in with. (The caller logs its own session out.)"""
    with transaction.atomic():
        Token.objects.filter(user=user).delete()
        if everywhere:
            mine = SignedInSession.objects.filter(user=user)
            Session.objects.filter(session_key__in=mine.values("session_key")).delete()
            mine.delete()


def purge_expired(*, now: datetime | None = None) -> int:
    """Deletes login challenges expired for over LNURL_AUTH_PURGE_AFTER_SECONDS, and the
    session list's entries whose session is gone or expired. Returns challenges deleted."""
    now = now or timezone.now()
    cutoff = now - timedelta(seconds=settings.LNURL_AUTH_PURGE_AFTER_SECONDS)
    deleted, _ = LoginChallenge.objects.filter(expires_at__lt=cutoff).delete()
    alive = Session.objects.filter(expire_date__gt=now).values("session_key")
    SignedInSession.objects.exclude(session_key__in=alive).delete()
    return deleted
