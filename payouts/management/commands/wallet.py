"""A command-line Lightning wallet for local use: `wallet login <lnurl>` signs an LNURL-auth
code, `wallet withdraw <lnurl>` draws an LNURL-withdraw with an invoice signed by the local key.

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
    help = "Act as a Lightning wallet: `login <lnurl>` (LNURL-auth), `withdraw <lnurl>`."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("action", choices=["login", "withdraw", "show-key"])
        parser.add_argument("lnurl", nargs="?", help="LNURL1… or lightning:LNURL1…")

    def handle(self, *args: Any, action: str, lnurl: str | None, **options: Any) -> None:
        key = wallet.load_or_create_key(settings.WALLET_KEY_FILE)
        if action == "show-key":
            self.stdout.write(key.public_key.format(compressed=True).hex())
            return
        if not lnurl:
            raise CommandError("Give the LNURL to act on.")
        if action == "withdraw":
            self.withdraw(key, lnurl)
        else:
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

    def withdraw(self, key: Any, code: str) -> None:
        try:
            url = lnurl_decode(code)
        except ValueError as exc:
            raise CommandError(f"Not an LNURL: {exc}") from exc
        offer = get_json(url)
        if offer.get("tag") != "withdrawRequest":
            raise CommandError(f"Not a withdrawRequest: {offer.get('reason', offer)}")
        amount_msat = int(offer["maxWithdrawable"])
        pr, preimage = wallet.make_invoice(
            key,
            amount_msat=amount_msat,
            network=settings.LIGHTNING_NETWORK,
            description=str(offer.get("defaultDescription", ""))[:200],
        )
        callback = offer["callback"]
        separator = "&" if "?" in callback else "?"
        answer = get_json(f"{callback}{separator}{urlencode({'k1': offer['k1'], 'pr': pr})}")
        if answer.get("status") != "OK":
            raise CommandError(f"The site refused the invoice: {answer.get('reason')}")
        self.stdout.write(f"Invoice for {amount_msat} msat accepted; payment is on its way.")
        self.stdout.write(f"preimage {preimage}")


def lnurl_decode(code: str) -> str:
    code = code.strip()
    if code.lower().startswith("lightning:"):
        code = code[len("lightning:") :]
    if code.lower().startswith("lnurlw://"):  # LUD-17
        return "https://" + code[len("lnurlw://") :]
    try:
        return lnurl.url_decode(code)
    except Exception as exc:  # the library raises several kinds for a bad bech32 string
        raise ValueError(str(exc)) from exc
