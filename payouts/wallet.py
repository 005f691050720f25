"""A minimal LNURL wallet for local use and tests: a secp256k1 key kept in a file.

Used by `manage.py wallet` and by the demo-wallet button (DEBUG with the fake node).
"""

from pathlib import Path
from urllib.parse import parse_qs, urlparse

from coincurve import PrivateKey


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
