"""core.hostile refuses, as ValueError, the JSON that Python or the database cannot hold."""

import pytest
from django.test import RequestFactory

from core import errors, hostile


@pytest.mark.parametrize(
    "text",
    [
        "[" * 100_000,
        "[" * 40 + "]" * 40,
        '{"a": "\\ud800"}',
        '{"\\udfff": 1}',
        '["a\\u0000"]',
        "1e400",
        "-1e400",
        "9" * 5000,
        "NaN",
        "[Infinity]",
    ],
)
def test_loads_refuses_hostile_json(text: str) -> None:
    with pytest.raises(ValueError):
        hostile.loads(text)


def test_loads_keeps_ordinary_json() -> None:
    text = '{"a": [1, 2.5, "\\ud83d\\ude00", {"b": null}], "n": ' + "9" * 100 + "}"
    assert hostile.loads(text) == {"a": [1, 2.5, "😀", {"b": None}], "n": int("9" * 100)}


@pytest.mark.parametrize(
    ("text", "number"),
    [("12", 12), ("0", 0), ("", None), ("²", None), ("٣", None), ("-1", None), ("9" * 19, None)],
)
def test_whole_number_reads_ascii_digits_only(text: str, number: int | None) -> None:
    assert hostile.whole_number(text) == number


def test_django_error_handlers_answer_json_on_the_api_and_lnurl_to_wallets() -> None:
    factory = RequestFactory()
    api = errors.server_error(factory.get("/api/v1/me/"))
    assert (api.status_code, api["Content-Type"]) == (500, "application/json")
    wallet = errors.page_not_found(factory.get("/api/v1/lnurl/withdraw/x/y/"), Exception())
    assert wallet.status_code == 200
    assert wallet.content == b'{"status": "ERROR", "reason": "Not found."}'
    page = errors.page_not_found(factory.get("/nope/"), Exception())
    assert (page.status_code, page["Content-Type"]) == (404, "text/html; charset=utf-8")
