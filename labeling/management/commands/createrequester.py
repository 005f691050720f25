"""Creates a requester with a staff login for the admin; prints its API token last."""

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from labeling.services.requesters import create_requester


class Command(BaseCommand):
    help = "Create a requester (and its staff user for the admin) and print its API token."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("username")
        parser.add_argument("--password", help="Admin password (default: no password login).")
        parser.add_argument("--email", default="")

    def handle(
        self, *args: Any, username: str, password: str | None, email: str, **options: Any
    ) -> None:
        try:
            requester, token = create_requester(username=username, password=password, email=email)
        except ValueError as exc:
            raise CommandError(str(exc)) from exc
        self.stdout.write(f"Requester {requester.user.username!r} created (id {requester.id}).")
        self.stdout.write(token)
