"""The periodic payouts job, by hand: finish paying withdrawals, expire stale ones,
credit paid deposits."""

from typing import Any

from django.core.management.base import BaseCommand

from payouts.services.withdrawals import reconcile_payouts


class Command(BaseCommand):
    help = "Reconcile paying withdrawals and unpaid deposits with the Lightning node."

    def handle(self, *args: Any, **options: Any) -> None:
        result = reconcile_payouts()
        self.stdout.write(", ".join(f"{key}: {value}" for key, value in result.items()))
