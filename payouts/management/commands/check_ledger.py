"""Verifies the ledger's invariants; exits non-zero on any breach (for cron and CI)."""

import sys
from typing import Any

from django.core.management.base import BaseCommand

from payouts import ledger


class Command(BaseCommand):
    help = "Check that every transfer sums to zero and cached balances match their entries."

    def handle(self, *args: Any, **options: Any) -> None:
        problems = ledger.problems()
        for problem in problems:
            self.stderr.write(problem)
        if problems:
            sys.exit(1)
        self.stdout.write("Ledger OK")
