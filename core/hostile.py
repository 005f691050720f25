"""Refuses input that Python or the database cannot hold, before it reaches the code:
JSON nested too deep, non-finite or huge numbers, lone surrogates and NUL characters.

`loads` is `json.loads` with these limits (`Decoder` the same as a decoder class);
`problem` checks an already-decoded value.
"""

import json
import math
from typing import Any

MAX_DEPTH = 32  # the deepest body we accept (batch items need about 5 levels)
MAX_INT_DIGITS = 100


class HostileInput(ValueError):
    """The input is well-formed but cannot be stored or computed on; say why."""


def _parse_float(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise HostileInput(f"Number out of range: {text[:20]}.")
    return value


def _parse_int(text: str) -> int:
    if len(text.lstrip("-")) > MAX_INT_DIGITS:
        raise HostileInput(f"Integer with more than {MAX_INT_DIGITS} digits.")
    return int(text)


def _parse_constant(name: str) -> float:
    raise HostileInput(f"{name} is not a JSON number.")


def loads(text: str | bytes) -> Any:
    """`json.loads`, raising `ValueError` (never RecursionError) for any input it refuses."""
    try:
        value = json.loads(
            text,
            parse_float=_parse_float,
            parse_int=_parse_int,
            parse_constant=_parse_constant,
        )
    except RecursionError as exc:
        raise HostileInput(f"JSON nested deeper than {MAX_DEPTH} levels.") from exc
    reason = problem(value)
    if reason:
        raise HostileInput(reason)
    return value


class Decoder(json.JSONDecoder):
    """`loads` as a decoder class, for fields that decode JSON themselves (DRF's JSONField
    reads a multipart or form field with `json.loads(value, cls=decoder)`)."""

    def decode(self, s: str, _w: Any = None) -> Any:
        return loads(s)


def text_problem(text: str) -> str | None:
    """Why a string cannot be stored (PostgreSQL text holds neither NUL nor surrogates)."""
    if "\x00" in text:
        return "Text must not contain NUL characters."
    if not text.isascii():
        try:
            text.encode("utf-8")
        except UnicodeEncodeError:
            return "Text must be valid Unicode (no lone surrogates)."
    return None


def problem(value: Any) -> str | None:
    """Why a decoded JSON value is refused, or None. Walks without recursion."""
    stack = [(value, 1)]
    while stack:
        node, depth = stack.pop()
        if isinstance(node, dict | list):
            if depth > MAX_DEPTH:
                return f"JSON nested deeper than {MAX_DEPTH} levels."
            if isinstance(node, dict):
                stack.extend((key, depth) for key in node)
                stack.extend((child, depth + 1) for child in node.values())
            else:
                stack.extend((child, depth + 1) for child in node)
        elif isinstance(node, str):
            reason = text_problem(node)
            if reason:
                return reason
    return None


def whole_number(text: str, *, max_digits: int = 18) -> int | None:
    """A form or query value as a non-negative int, or None: ASCII digits only (`isdigit()`
    is also true for "²", which `int()` refuses) and few enough of them to fit a bigint."""
    if text.isascii() and text.isdigit() and len(text) <= max_digits:
        return int(text)
    return None
