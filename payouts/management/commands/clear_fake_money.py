"""Deletes the play money of a database that ran on the fake node (payouts.services.fake_money)."""

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from payouts.services.fake_money import clear_fake_money


class Command(BaseCommand):
    help = (
        "Close open batches and delete every money record (ledger, deposits, withdrawals, "
        "the fake node's invoices and payments), so a real Lightning node starts from zero."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--yes", action="store_true", help="Really delete.")

    def handle(self, *args: Any, yes: bool, **options: Any) -> None:
        if not yes:
            raise CommandError("This deletes every money record. Run it again with --yes.")
        for name, count in clear_fake_money().items():
            self.stdout.write(f"{name}: {count}")
