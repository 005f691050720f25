"""The ledger's one transfer function: zero-sum, no overdraft, once per event."""

import itertools

import pytest
from django.core.management import call_command
from django.db import transaction
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from payouts import ledger
from payouts.errors import InsufficientBalance
from payouts.models import Account, Entry, Transfer
from tests.conftest import needs_postgres

ALICE = ledger.AccountRef("test:alice", Account.Kind.REQUESTER_AVAILABLE)
BOB = ledger.AccountRef("test:bob", Account.Kind.REQUESTER_AVAILABLE)


def fund(account: ledger.AccountRef, amount_msat: int, reference: str = "fund") -> None:
    ledger.transfer(
        kind="deposit",
        reference=reference,
        legs=[(ledger.LIGHTNING_IN, -amount_msat), (account, amount_msat)],
    )


def test_a_transfer_moves_money_and_its_entries_sum_to_zero(db):
    fund(ALICE, 10_000)
    ledger.transfer(kind="reserve", reference="r1", legs=[(ALICE, -4_000), (BOB, 4_000)])
    assert ledger.balance_msat(ALICE) == 6_000
    assert ledger.balance_msat(BOB) == 4_000
    assert ledger.balance_msat(ledger.LIGHTNING_IN) == -10_000
    assert sum(Entry.objects.values_list("amount_msat", flat=True)) == 0
    assert ledger.problems() == []


def test_an_overdraft_is_refused_and_moves_nothing(db):
    fund(ALICE, 1_000)
    with pytest.raises(InsufficientBalance):
        ledger.transfer(kind="reserve", reference="r1", legs=[(ALICE, -1_001), (BOB, 1_001)])
    assert ledger.balance_msat(ALICE) == 1_000
    assert ledger.balance_msat(BOB) == 0
    assert Transfer.objects.filter(kind="reserve").count() == 0


def test_a_debit_from_an_account_that_never_held_money_is_refused(db):
    with pytest.raises(InsufficientBalance):
        ledger.transfer(kind="reserve", reference="r1", legs=[(ALICE, -1), (BOB, 1)])


def test_the_same_event_cannot_move_money_twice(db):
    from django.db import IntegrityError, transaction

    fund(ALICE, 10_000)
    ledger.transfer(kind="reserve", reference="once", legs=[(ALICE, -1), (BOB, 1)])
    with pytest.raises(IntegrityError), transaction.atomic():
        ledger.transfer(kind="reserve", reference="once", legs=[(ALICE, -1), (BOB, 1)])
    assert ledger.balance_msat(BOB) == 1


@pytest.mark.parametrize(
    "legs",
    [
        [(ALICE, -1), (BOB, 2)],  # does not sum to zero
        [(ALICE, 0), (BOB, 0)],  # moves nothing
        [(ALICE, -1.0), (BOB, 1.0)],  # not integer msat
        [(ALICE, True), (BOB, -1)],  # a bool is not an amount
    ],
)
def test_malformed_transfers_are_refused(db, legs):
    with pytest.raises((ValueError, TypeError)):
        ledger.transfer(kind="reserve", reference="bad", legs=legs)
    assert Transfer.objects.count() == 0


def test_check_ledger_passes_on_a_sound_ledger_and_fails_on_a_breach(db, capsys):
    fund(ALICE, 5_000)
    call_command("check_ledger")
    assert "Ledger OK" in capsys.readouterr().out
    Account.objects.filter(key=ALICE.key).update(balance_msat=4_999)  # a drifted cache
    with pytest.raises(SystemExit) as exit_:
        call_command("check_ledger")
    assert exit_.value.code == 1
    assert "test:alice" in capsys.readouterr().err
    Account.objects.filter(key=ALICE.key).update(balance_msat=5_000)  # repair for the fixture


def test_check_ledger_finds_a_transfer_that_does_not_sum_to_zero(db):
    fund(ALICE, 5_000)
    Entry.objects.filter(account_id=ALICE.key).update(amount_msat=4_000)
    assert any("sum to" in problem for problem in ledger.problems())
    Entry.objects.filter(account_id=ALICE.key).update(amount_msat=5_000)


_runs = itertools.count()
ACCOUNT_NAMES = ["a", "b", "c", "d"]
moves = st.lists(
    st.tuples(
        st.sampled_from(ACCOUNT_NAMES),
        st.sampled_from(ACCOUNT_NAMES),
        st.integers(min_value=1, max_value=10**15),
    ),
    max_size=25,
)


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    deposits=st.lists(st.integers(min_value=1, max_value=10**12), min_size=4, max_size=4),
    moves=moves,
)
def test_any_sequence_of_transfers_keeps_the_ledger_sound(db, deposits, moves):
    run = next(_runs)
    accounts = {
        name: ledger.AccountRef(f"prop:{run}:{name}", Account.Kind.REQUESTER_AVAILABLE)
        for name in ACCOUNT_NAMES
    }
    model = dict.fromkeys(ACCOUNT_NAMES, 0)
    for name, amount in zip(ACCOUNT_NAMES, deposits, strict=True):
        fund(accounts[name], amount, reference=f"prop:{run}:{name}")
        model[name] += amount
    for step, (source, target, amount) in enumerate(moves):
        legs = [(accounts[source], -amount), (accounts[target], amount)]
        if source == target:
            continue
        try:
            ledger.transfer(kind="reserve", reference=f"prop:{run}:{step}", legs=legs)
        except InsufficientBalance:
            assert model[source] < amount  # refused only when it would overdraw
            continue
        assert model[source] >= amount
        model[source] -= amount
        model[target] += amount
    for name in ACCOUNT_NAMES:
        assert ledger.balance_msat(accounts[name]) == model[name] >= 0
    assert ledger.problems() == []


def _guard(key: str) -> tuple[str, list[object]]:
    """A data-modifying guard: marks the account `key` (not one the transfer moves)."""
    return (
        "guard AS (UPDATE payouts_account SET allow_negative = NOT allow_negative"
        " WHERE key = %s RETURNING 1)",
        [key],
    )


def _flag(key: str) -> bool:
    return Account.objects.get(key=key).allow_negative


@needs_postgres
@pytest.mark.parametrize("outer", [False, True], ids=["own statement", "in a transaction"])
def test_a_transfer_after_a_guard_is_all_or_nothing(transactional_db, outer):
    """One statement: the guard and the transfer both happen, or neither."""
    carol = ledger.AccountRef("test:carol", Account.Kind.REQUESTER_AVAILABLE)
    fund(ALICE, 1_000)
    fund(carol, 1, reference="open carol")
    guard, params = _guard(carol.key)

    def after(legs, reference="t1"):
        kwargs = dict(guard=guard, guard_params=params, kind="reserve", reference=reference)
        if not outer:
            return ledger.transfer_after(legs=legs, **kwargs)
        with transaction.atomic():
            result = ledger.transfer_after(legs=legs, **kwargs)
            Account.objects.count()  # the transaction is still usable
            return result

    # BOB has no account yet, and ALICE cannot pay 1,001: nothing written, guard included.
    assert after([(ALICE, -500), (BOB, 500)]) is None
    assert after([(ALICE, -1_001), (ledger.FEES, 1_001)]) is None
    assert not _flag(carol.key) and not Transfer.objects.filter(kind="reserve").exists()
    assert ledger.balance_msat(ALICE) == 1_000
    # Both accounts open and the debit covered: the guard and the whole transfer.
    fund(BOB, 1, reference="open bob")
    ledger.open_accounts(ledger.FEES)
    assert after([(ALICE, -400), (BOB, 300), (ledger.FEES, 100)]) is True
    assert _flag(carol.key)
    assert (ledger.balance_msat(ALICE), ledger.balance_msat(BOB)) == (600, 301)
    # A guard that changes nothing: no transfer.
    guard = guard.replace("WHERE key = %s", "WHERE key = %s AND false")
    assert after([(ALICE, -1), (BOB, 1)], reference="t2") is False
    assert not Transfer.objects.filter(reference="t2").exists()
    assert ledger.problems() == []
