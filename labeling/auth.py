"""Token authentication that loads the user's worker and requester in the same query, and
refuses tokens older than API_TOKEN_TTL_SECONDS."""

from datetime import timedelta
from typing import Any

from django.conf import settings
from django.utils import timezone
from rest_framework import authentication, exceptions
from rest_framework.authtoken.models import Token

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
