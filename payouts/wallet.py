"""A minimal LNURL wallet for local use and tests: a secp256k1 key kept in a file.

Used by `manage.py wallet` and by the demo-wallet button (DEBUG with the fake node).
"""

import hashlib
import secrets
from pathlib import Path
from urllib.parse import parse_qs, urlparse

from coincurve import PrivateKey

from .lightning.fake import sign_invoice


def load_or_create_key(path: Path) -> PrivateKey:
    if path.exists():
        return PrivateKey(bytes.fromhex(path.read_text().strip()))
    key = PrivateKey()
    path.write_text(key.secret.hex())
    path.chmod(0o600)
    return key


def sign_k1(key: PrivateKey, k1: str) -> tuple[str, str]:
    """(DER signature hex, compressed public key hex) as LUD-04 wallets send them."""
    signature = key.sign(bytes.fromhex(k1), hasher=None)
    return signature.hex(), key.public_key.format(compressed=True).hex()


def k1_of(url: str) -> str:
    values = parse_qs(urlparse(url).query).get("k1")
    if not values:
        raise ValueError("The URL carries no k1.")
    return values[0]


def make_invoice(
    key: PrivateKey,
    *,
    amount_msat: int | None,
    network: str,
    description: str | None = "withdrawal",
    description_hash: str | None = None,
    expiry_seconds: int = 600,
    timestamp: int | None = None,
) -> tuple[str, str]:
    """A BOLT11 invoice this wallet would hand out: (bolt11, preimage hex)."""

    preimage = secrets.token_hex(32)
    return (
        sign_invoice(
            private_key=key.secret.hex(),
            network=network,
            amount_msat=amount_msat,
            payment_hash=hashlib.sha256(bytes.fromhex(preimage)).hexdigest(),
            description=description,
            description_hash=description_hash,
            expiry_seconds=expiry_seconds,
            timestamp=timestamp,
        ),
        preimage,
    )
