"""A command-line Lightning wallet for local use: `wallet login <lnurl>`.

The key lives in WALLET_KEY_FILE; the wallet talks to the site over HTTP like a phone would.
"""

import json
import urllib.error
import urllib.request
from typing import Any
from urllib.parse import urlencode

import lnurl
from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser

from payouts import wallet


def get_json(url: str) -> dict[str, Any]:
    try:
        with urllib.request.urlopen(url, timeout=15) as response:
            return json.loads(response.read())
    except (urllib.error.URLError, json.JSONDecodeError) as exc:
        raise CommandError(f"{url}: {exc}") from exc


class Command(BaseCommand):
    help = "Act as a Lightning wallet: `login <lnurl>` signs an LNURL-auth code."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("action", choices=["login", "show-key"])
        parser.add_argument("lnurl", nargs="?", help="LNURL1… or lightning:LNURL1…")

    def handle(self, *args: Any, action: str, lnurl: str | None, **options: Any) -> None:
        key = wallet.load_or_create_key(settings.WALLET_KEY_FILE)
        if action == "show-key":
            self.stdout.write(key.public_key.format(compressed=True).hex())
            return
        if not lnurl:
            raise CommandError("Give the LNURL to act on.")
        self.login(key, lnurl)

    def login(self, key: Any, code: str) -> None:
        try:
            url = lnurl_decode(code)
            k1 = wallet.k1_of(url)
            sig, linking_key = wallet.sign_k1(key, k1)
        except ValueError as exc:
            raise CommandError(f"Not an LNURL-auth code: {exc}") from exc
        separator = "&" if "?" in url else "?"
        answer = get_json(f"{url}{separator}{urlencode({'sig': sig, 'key': linking_key})}")
        if answer.get("status") != "OK":
            raise CommandError(f"The site refused the login: {answer.get('reason')}")
        self.stdout.write(f"Logged in as {linking_key}")


def lnurl_decode(code: str) -> str:
    code = code.strip()
    if code.lower().startswith("lightning:"):
        code = code[len("lightning:") :]
    try:
        return lnurl.url_decode(code)
    except Exception as exc:  # the library raises several kinds for a bad bech32 string
        raise ValueError(str(exc)) from exc
