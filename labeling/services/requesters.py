"""Requesters: a staff login limited to its own batches, and an API token."""

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group, Permission
from django.db import transaction
from rest_framework.authtoken.models import Token

from ..models import Requester

REQUESTER_PERMISSIONS = (
    "add_batch",
    "change_batch",
    "view_batch",
    "view_item",
    "view_response",
    "view_rating",
    "view_report",
    "change_report",
)


@transaction.atomic
def create_requester(
    *, username: str, password: str | None = None, email: str = ""
) -> tuple[Requester, str]:
    """A requester with a staff (not superuser) login limited to its own batches."""
    if not username or get_user_model().objects.filter(username=username).exists():
        raise ValueError(f"The username {username!r} is empty or taken.")
    user = get_user_model().objects.create_user(username=username, email=email, password=password)
    if password is None:
        user.set_unusable_password()
    user.is_staff = True
    user.save()
    group, _ = Group.objects.get_or_create(name="Requesters")
    group.permissions.set(
        Permission.objects.filter(
            content_type__app_label="labeling", codename__in=REQUESTER_PERMISSIONS
        )
    )
    user.groups.add(group)
    requester = Requester.objects.create(user=user)
    return requester, Token.objects.create(user=user).key
