"""The public leaderboard: a worker joins or leaves it under a random pseudonym."""

import secrets

from django.db import IntegrityError, transaction

from ..models import PublicProfile, Worker

# Names read well in any language and say nothing about the wallet behind them.
# fmt: off
ADJECTIVES = (
    "Amber", "Bold", "Brave", "Bright", "Calm", "Clever", "Cobalt", "Coral", "Crimson", "Eager",
    "Gentle", "Golden", "Honest", "Indigo", "Jade", "Keen", "Lively", "Lucky", "Lunar", "Mellow",
    "Nimble", "Noble", "Quick", "Quiet", "Rapid", "Silver", "Solar", "Steady", "Swift", "Teal",
    "Witty", "Zesty",
)
ANIMALS = (
    "Badger", "Bison", "Crane", "Dolphin", "Eagle", "Falcon", "Fox", "Gecko", "Heron", "Ibis",
    "Jaguar", "Koala", "Lemur", "Lynx", "Marten", "Narwhal", "Ocelot", "Orca", "Otter", "Owl",
    "Panda", "Puffin", "Quail", "Raven", "Seal", "Stork", "Tapir", "Tiger", "Walrus", "Wolf",
    "Yak", "Zebra",
)
# fmt: on
NAME_ATTEMPTS = 20  # ten million names: a clash twice in a row is already rare


def new_pseudonym() -> str:
    """A random name such as "Swift Otter 4821" (from `secrets`, not from any key)."""
    return (
        f"{secrets.choice(ADJECTIVES)} {secrets.choice(ANIMALS)} {secrets.randbelow(9000) + 1000}"
    )


def set_leaderboard_listing(*, worker: Worker, listed: bool) -> PublicProfile | None:
    """Joins (`listed`) or leaves the leaderboard; the pseudonym stays the same over time."""
    with transaction.atomic():
        profile = PublicProfile.objects.select_for_update().filter(worker=worker).first()
        if profile is not None:
            if profile.listed != listed:
                profile.listed = listed
                profile.save(update_fields=["listed"])
            return profile
        if not listed:
            return None
        for _ in range(NAME_ATTEMPTS):
            try:
                with transaction.atomic():  # a savepoint: a taken name leaves the rest intact
                    return PublicProfile.objects.create(
                        worker=worker, pseudonym=new_pseudonym(), listed=True
                    )
            except IntegrityError:
                if PublicProfile.objects.filter(worker=worker).exists():
                    # Joined from another tab at the same moment: that profile stands.
                    return PublicProfile.objects.get(worker=worker)
        raise RuntimeError("No free pseudonym found")
