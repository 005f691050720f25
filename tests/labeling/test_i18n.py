from pathlib import Path

import polib
import pytest
from django.conf import settings
from django.urls import reverse


def test_worker_pages_follow_the_browser_language(client, db):
    spanish = client.get(reverse("login"), HTTP_ACCEPT_LANGUAGE="es")
    assert "Entra con tu monedero Lightning" in spanish.content.decode()
    english = client.get(reverse("login"), HTTP_ACCEPT_LANGUAGE="en")
    assert "Sign in with your Lightning wallet" in english.content.decode()


CATALOGS = sorted((Path(settings.BASE_DIR) / "locale").glob("*/LC_MESSAGES/django.po"))


def test_there_is_a_catalog_for_every_language_but_english() -> None:
    languages = {path.parts[-3] for path in CATALOGS}
    assert languages == {code for code, _ in settings.LANGUAGES} - {"en"}


@pytest.mark.parametrize("path", CATALOGS, ids=lambda path: path.parts[-3])
def test_every_string_is_translated(path: Path) -> None:
    catalog = polib.pofile(str(path))
    missing = [entry.msgid for entry in catalog.untranslated_entries()]
    fuzzy = [entry.msgid for entry in catalog.fuzzy_entries()]
    assert (missing, fuzzy) == ([], [])


@pytest.mark.parametrize("path", CATALOGS, ids=lambda path: path.parts[-3])
def test_the_compiled_catalog_matches_its_source(path: Path) -> None:
    """The .mo the site reads holds exactly the .po's translations (compilemessages was run)."""
    source = {(e.msgctxt, e.msgid): (e.msgstr, e.msgstr_plural) for e in polib.pofile(str(path))}
    compiled = polib.mofile(str(path.with_suffix(".mo")))
    assert {(e.msgctxt, e.msgid): (e.msgstr, e.msgstr_plural) for e in compiled} == source
