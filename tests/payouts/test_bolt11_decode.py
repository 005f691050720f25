"""The BOLT11 reader agrees with the `bolt11` package on every invoice it can write,
and refuses what that package refuses."""

import secrets

import bolt11
import pytest
from bolt11 import Bolt11, MilliSatoshi, TagChar, Tags
from coincurve import PrivateKey
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from payouts.bolt11_decode import BadSignature, InvalidInvoice, _amount_msat, decode

from .factories import forged_invoice

KEYS = [PrivateKey() for _ in range(3)]


def encode(
    *,
    currency: str,
    amount_msat: int | None,
    description: str | None,
    description_hash: str | None,
    expiry: int | None,
    key: PrivateKey,
    keep_payee: bool,
    timestamp: int,
) -> str:
    tags = Tags()
    tags.add(TagChar.payment_hash, secrets.token_hex(32))
    tags.add(TagChar.payment_secret, secrets.token_hex(32))
    if description_hash is not None:
        tags.add(TagChar.description_hash, description_hash)
    else:
        tags.add(TagChar.description, description or "")
    if expiry is not None:
        tags.add(TagChar.expire_time, expiry)
    tags.add(TagChar.min_final_cltv_expiry, 18)
    if keep_payee:
        tags.add(TagChar.payee, key.public_key.format().hex())
    invoice = Bolt11(
        currency=currency,
        date=timestamp,
        tags=tags,
        amount_msat=MilliSatoshi(amount_msat) if amount_msat else None,
    )
    return bolt11.encode(invoice, private_key=key.secret.hex(), keep_payee=keep_payee)


invoices = st.builds(
    encode,
    currency=st.sampled_from(["bc", "tb", "bcrt", "tbs"]),
    amount_msat=st.none() | st.integers(1, 21_000_000 * 10**11),
    description=st.text(max_size=300),
    description_hash=st.none() | st.binary(min_size=32, max_size=32).map(bytes.hex),
    expiry=st.none() | st.integers(1, 2**40),
    key=st.sampled_from(KEYS),
    keep_payee=st.booleans(),
    timestamp=st.integers(1, 2**35 - 1),
)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(pr=invoices)
def test_fields_match_the_bolt11_package(pr):
    expected = bolt11.decode(pr)
    got = decode(pr)
    assert got.currency == expected.currency
    assert got.amount_msat == (int(expected.amount_msat) if expected.amount_msat else None)
    assert got.date == expected.date
    assert got.payment_hash == expected.payment_hash
    assert got.payment_secret == expected.payment_secret
    assert got.payee == expected.payee
    assert got.description == expected.description
    assert got.description_hash == expected.description_hash
    assert got.expiry == expected.expiry
    assert got.min_final_cltv_expiry == expected.min_final_cltv_expiry
    assert got.has_expired() == expected.has_expired()
    assert decode(pr.upper()) == got


@settings(max_examples=150, deadline=None)
@given(pr=invoices, data=st.data())
def test_any_one_character_edit_is_refused(pr, data):
    position = data.draw(st.integers(4, len(pr) - 1))
    char = data.draw(
        st.sampled_from("qpzry9x8gf2tvdw0s3jn54khce6mua7l").filter(lambda c: c != pr[position])
    )
    edited = pr[:position] + char + pr[position + 1 :]
    with pytest.raises(InvalidInvoice):
        decode(edited)


@given(text=st.text(max_size=400))
def test_arbitrary_text_is_refused_cleanly(text):
    with pytest.raises(InvalidInvoice):
        decode(text)


def test_a_changed_amount_breaks_the_signature():
    key = PrivateKey()
    # Without `n` the payee is recovered from the signature: a changed amount recovers
    # another key, so the payee no longer matches.
    forged = forged_invoice(2_000, key=key, with_payee=False)
    assert decode(forged).payee != key.public_key.format().hex()
    # With `n` the signature is checked against that key and fails.
    with pytest.raises(BadSignature):
        decode(forged_invoice(2_000, key=key))


@pytest.mark.parametrize(
    ("hrp_amount", "msat"),
    [
        ("", None),
        ("2500u", 250_000_000),
        ("20m", 2_000_000_000),
        ("10n", 1_000),
        ("10p", 1),
        ("1", 10**11),
    ],
)
def test_amount_multipliers(hrp_amount, msat):
    assert _amount_msat(hrp_amount) == msat


@pytest.mark.parametrize("hrp_amount", ["1p", "m", "1x", "\uff11m", "-1m"])
def test_bad_amounts_are_refused(hrp_amount):
    with pytest.raises(InvalidInvoice):
        _amount_msat(hrp_amount)
