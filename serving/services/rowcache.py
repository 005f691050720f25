"""A web process's copy of the two rows a paid L402 call reads: the published model (by
name) and the paid token (by token id), so that such a call makes one round trip to the
database before its engine works (the hold) instead of two.

A copy is used only where the hold checks it, in the same statement: on PostgreSQL the hold
compares the model's row, as text, with the copy's (a price, owner, engine or publication
that changed fails it). A paid token's fields that a call reads never change (root key,
model, expiry, payment); its counters, which do, the hold decides in SQL. A hold that fails
on a copy drops it, and the call is answered again from fresh rows (`Stale`); so is a call
refused on copies before its hold checked them (an engine or limit that changed since)."""

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from django.db import connection

from ..models import L402Token, ServedModel

MAX_MODELS = 1024
MAX_TOKENS = 4096


class Stale(Exception):
    """A copy failed its hold: answer the call again without copies."""


@dataclass(frozen=True)
class Model:
    row: ServedModel
    text: str  # the row as PostgreSQL renders it, which the hold compares


_lock = threading.Lock()
_models: dict[str, Model] = {}
_tokens: dict[str, L402Token] = {}


class _Thread(threading.local):
    bypass = False  # read fresh rows
    unchecked: str | None = None  # the model whose copy this call uses, until its hold


_thread = _Thread()


def usable(token_id: str | None) -> bool:
    """Copies serve L402 calls on PostgreSQL (whose hold checks them), unless bypassed."""
    return token_id is not None and connection.vendor == "postgresql" and not _thread.bypass


def lookup(name: str, token_id: str) -> tuple[Model, L402Token] | None:
    model, token = _models.get(name), _tokens.get(token_id)
    if model is None or token is None:
        return None
    _thread.unchecked = name
    return model, token


def begin() -> None:
    """A new call on this thread: no copy in use yet."""
    _thread.unchecked = None


def checked() -> None:
    """The call's hold found its copies current."""
    _thread.unchecked = None


def unchecked() -> bool:
    """Whether this call uses copies its hold has not checked yet."""
    return _thread.unchecked is not None


def refused_on_copy() -> bool:
    """Whether the call now refused used a copy its hold had not checked (the copy is then
    dropped)."""
    name, _thread.unchecked = _thread.unchecked, None
    if name is not None:
        forget(name)
    return name is not None


def keep(model: Model, token: L402Token | None) -> None:
    """Keeps fresh rows: the model, and the token if paid (see keep_token)."""
    with _lock:
        _put(_models, model.row.name, model, MAX_MODELS)
    if token is not None:
        keep_token(token)


def keep_token(token: L402Token) -> None:
    """Keeps a paid token's row (on PostgreSQL, where copies are used); an unpaid one is
    read again, since its first call credits it."""
    if token.paid_at is not None and connection.vendor == "postgresql":
        with _lock:
            _put(_tokens, token.token_id, token, MAX_TOKENS)


def _put(rows: dict, key: str, value: object, most: int) -> None:
    rows.pop(key, None)
    rows[key] = value
    while len(rows) > most:
        rows.pop(next(iter(rows)))


def forget(name: str) -> None:
    with _lock:
        _models.pop(name, None)


def clear() -> None:
    with _lock:
        _models.clear()
        _tokens.clear()


@contextmanager
def bypassed() -> Iterator[None]:
    """Reads fresh rows on this thread (and keeps them for the next call)."""
    _thread.bypass = True
    try:
        yield
    finally:
        _thread.bypass = False
