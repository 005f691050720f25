"""The sign-in page says so when its code cannot work on a phone (PUBLIC_BASE_URL on this
computer or plain http), in the labeler's language, and points at the README."""

import pytest
from django.urls import reverse

NOTICE_EN = "A phone cannot sign in here yet: this code points at"
NOTICE_ES = "Todavía no se puede entrar aquí con un teléfono: este código apunta a"


@pytest.mark.parametrize(
    ("base_url", "phones_can_sign_in"),
    [
        ("http://127.0.0.1:8000", False),  # the default, make run's
        ("http://localhost:8000", False),
        ("https://localhost", False),
        ("https://app.localhost", False),
        ("https://127.0.0.1:8443", False),
        ("https://[::1]:8443", False),
        ("https://0.0.0.0", False),
        ("http://192.168.1.20:8000", False),  # reachable on the LAN, but wallets want https
        ("http://rate.example.com", False),
        ("https://192.168.1.20:8443", True),  # a LAN certificate
        ("https://quiet-fox.trycloudflare.com", True),  # a tunnel
        ("https://rate.example.com", True),
        ("http://abcdefghijklmnop.onion", True),  # wallets take http over Tor
    ],
)
def test_the_sign_in_page_warns_when_phones_cannot_use_its_code(
    client, db, settings, base_url, phones_can_sign_in
):
    settings.PUBLIC_BASE_URL = base_url
    page = client.get(reverse("login"), HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert (NOTICE_EN in page) is not phones_can_sign_in
    if not phones_can_sign_in:
        assert f"points at {base_url}, and a wallet only accepts an https address" in page
        assert "“Trying it with a real phone” in the README" in page


def test_the_warning_is_in_spanish_for_spanish_browsers(client, db, settings):
    settings.PUBLIC_BASE_URL = "http://127.0.0.1:8000"
    page = client.get(reverse("login"), HTTP_ACCEPT_LANGUAGE="es").content.decode()
    assert f"{NOTICE_ES} http://127.0.0.1:8000" in page
    assert "mira en el README la sección sobre cómo probarlo con un teléfono" in page
    assert NOTICE_EN not in page
