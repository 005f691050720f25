"""The hand-written SQL helpers: rows become model instances as the ORM builds them,
datetimes are adapted for the database, and no save receiver can be skipped unnoticed."""

from datetime import timedelta

import pytest
from django.db.models.signals import post_save
from django.utils import timezone

from core import sql
from labeling.models import Requester
from payouts.models import LoginChallenge


def test_a_row_becomes_the_instance_the_orm_would_load(requester):
    row = sql.fetch(
        f"SELECT {sql.columns(Requester, 'r')} FROM {sql.table(Requester)} r WHERE r.id = %s",
        [requester.id],
    )
    loaded, end = sql.from_row(Requester, row)
    assert (loaded.id, loaded.user_id, loaded.created_at) == (
        requester.id,
        requester.user_id,
        Requester.objects.get(id=requester.id).created_at,
    )
    assert end == len(Requester._meta.concrete_fields)


def test_an_aware_datetime_parameter_compares_as_the_orm_compares_it(requester):
    created = Requester.objects.get(id=requester.id).created_at
    after = sql.fetch(
        f"SELECT COUNT(*) FROM {sql.table(Requester)} WHERE created_at < %s",
        [created + timedelta(seconds=1)],
    )
    before = sql.fetch(
        f"SELECT COUNT(*) FROM {sql.table(Requester)} WHERE created_at < %s",
        [created - timedelta(seconds=1)],
    )
    assert (after[0], before[0]) == (1, 0)


def challenge(k1: str) -> LoginChallenge:
    now = timezone.now()
    return LoginChallenge(k1=k1, created_at=now, expires_at=now + timedelta(minutes=5))


def test_insert_returns_the_saved_instance_with_its_id(db):
    saved = sql.insert(challenge("a" * 64))
    stored = LoginChallenge.objects.get(id=saved.id)
    assert (stored.k1, stored.expires_at) == (saved.k1, saved.expires_at)
    assert not saved._state.adding


def test_insert_refuses_a_model_with_save_receivers(db):
    def audit(**kwargs):  # a receiver added later must see every row
        pass

    post_save.connect(audit, sender=LoginChallenge)
    try:
        with pytest.raises(TypeError, match="save receivers"):
            sql.insert(challenge("b" * 64))
    finally:
        post_save.disconnect(audit, sender=LoginChallenge)
    assert not LoginChallenge.objects.exists()
