"""Token authentication that loads the user's worker and requester in the same query, and
refuses tokens older than API_TOKEN_TTL_SECONDS."""

import hashlib
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.http import HttpRequest
from django.utils import timezone
from rest_framework import authentication, exceptions
from rest_framework.authtoken.models import Token
from rest_framework.request import Request
from rest_framework.throttling import BaseThrottle

from . import sql


class TokenAuthentication(authentication.TokenAuthentication):
    def authenticate_credentials(self, key: str) -> tuple[Any, Token]:
        found = sql.token_with_user(key)
        if found is None:
            raise exceptions.AuthenticationFailed("Invalid token.")
        token, user, worker, requester = found
        if not user.is_active:
            raise exceptions.AuthenticationFailed("User inactive or deleted.")
        ttl = settings.API_TOKEN_TTL_SECONDS  # 0: tokens never expire
        if ttl and token.created <= timezone.now() - timedelta(seconds=ttl):
            raise exceptions.AuthenticationFailed("Token expired; sign in again.")
        # As select_related leaves them: `user.worker` raises DoesNotExist when there is none.
        Token.user.field.set_cached_value(token, user)
        for descriptor, related in ((type(user).worker, worker), (type(user).requester, requester)):
            descriptor.related.set_cached_value(user, related)
            if related is not None:
                descriptor.related.field.set_cached_value(related, user)
        return user, token


def client_fingerprint(request: Request | HttpRequest) -> str:
    """The client a request came from: its address (as the rate limits see it, behind
    NUM_PROXIES) and browser, hashed. Keys sharing one are treated as one person when one
    of them is closed."""
    address = BaseThrottle().get_ident(request)
    agent = request.META.get("HTTP_USER_AGENT", "")[:500]
    return hashlib.sha256(f"{address}\n{agent}".encode()).hexdigest()[:32]
