"""Token authentication that loads the user's worker and requester in the same query."""

from functools import cache
from typing import Any

from django.contrib.auth import get_user_model
from rest_framework import authentication, exceptions
from rest_framework.authtoken.models import Token

from . import rows
from .models import Requester, Worker


@cache
def _sql() -> str:
    user = get_user_model()
    return (
        f"SELECT {rows.columns(Token, 't')}, {rows.columns(user, 'u')}, "
        f"{rows.columns(Worker, 'w')}, {rows.columns(Requester, 'r')} "
        f"FROM {Token._meta.db_table} t "
        f"JOIN {user._meta.db_table} u ON u.id = t.user_id "
        f"LEFT JOIN {Worker._meta.db_table} w ON w.user_id = u.id "
        f"LEFT JOIN {Requester._meta.db_table} r ON r.user_id = u.id "
        "WHERE t.key = %s"
    )


class TokenAuthentication(authentication.TokenAuthentication):
    def authenticate_credentials(self, key: str) -> tuple[Any, Token]:
        row = rows.fetch(_sql(), [key])
        if row is None:
            raise exceptions.AuthenticationFailed("Invalid token.")
        token, end = rows.from_row(Token, row)
        user, end = rows.from_row(get_user_model(), row, end)
        worker, end = rows.from_row(Worker, row, end)
        requester, _ = rows.from_row(Requester, row, end)
        if not user.is_active:
            raise exceptions.AuthenticationFailed("User inactive or deleted.")
        # As select_related leaves them: `user.worker` raises DoesNotExist when there is none.
        Token.user.field.set_cached_value(token, user)
        for descriptor, related in ((type(user).worker, worker), (type(user).requester, requester)):
            descriptor.related.set_cached_value(user, related)
            if related is not None:
                descriptor.related.field.set_cached_value(related, user)
        return user, token
