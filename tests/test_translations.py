"""Every user-facing string is a message; English and German ship, chosen by the browser's
Accept-Language (or ``?_LOCALE_=``), with the tooling's own check in the suite."""

from __future__ import annotations

import pytest

from cms_social_login.scripts.catalogs import main as catalogs
from cms_social_login.scripts.catalogs import problems

from .conftest import callback_path, settings_form, start_login, submit_bitbucket

GERMAN = {"HTTP_ACCEPT_LANGUAGE": "de-DE,de;q=0.9,en;q=0.5"}


def test_the_catalogs_are_complete_and_compiled():
    assert problems() == []
    assert catalogs(["check"]) == 0


def test_the_login_page_in_german(visitor):
    page = visitor.get("/login", extra_environ=GERMAN)
    assert page.html.find("html")["lang"] == "de"
    assert page.html.find("h1").get_text(strip=True) == "Anmelden"
    assert "Benutzername" in page.text and "Passwort" in page.text


def test_english_stays_the_default(visitor):
    page = visitor.get("/login", extra_environ={"HTTP_ACCEPT_LANGUAGE": "fr-FR,fr"})
    assert page.html.find("html")["lang"] == "en"
    assert page.html.find("h1").get_text(strip=True) == "Log in"
    assert visitor.get("/login?_LOCALE_=de").html.find("h1").get_text(strip=True) == "Anmelden"


def test_messages_from_the_code_are_translated(visitor):
    form = visitor.get("/login", extra_environ=GERMAN).forms[0]
    form["login"], form["password"] = "editor", "wrong"
    page = form.submit(status=400, extra_environ=GERMAN)
    assert "Benutzername oder Passwort ist falsch." in page.text


def test_the_login_setting_in_german(editor):
    page = editor.get("/editor/system-pages/login/settings", extra_environ=GERMAN)
    labels = [label.get_text(" ", strip=True) for label in page.html.find_all("label")]
    assert any(text.startswith("Bitbucket-Client-ID") for text in labels)
    assert any(text.startswith("Bitbucket-Client-Secret") for text in labels)
    buttons = {b.get_text(strip=True) for b in page.html.select(".button-row button")}
    assert buttons == {"OK", "Übernehmen", "Vorschau", "Speichern"}
    form = settings_form(editor)
    form["bitbucket.enabled"] = True
    error = form.submit("action", value="apply", status=400, extra_environ=GERMAN)
    assert "Bitbucket-Client-ID wird benötigt, um Bitbucket einzuschalten." in error.text


@pytest.mark.parametrize("locale, text", [
    ("de", "Die Anmeldung mit Bitbucket wurde abgebrochen, Sie sind daher nicht angemeldet."),
    ("en", "The Bitbucket login was cancelled, so you are not signed in."),
])
def test_a_provider_failure_in_the_visitors_language(editor, make_browser, bitbucket,
                                                     bitbucket_user, locale, text):
    submit_bitbucket(editor, "save").follow()
    visitor = make_browser()
    location = bitbucket.deny(start_login(visitor))
    language = {"HTTP_ACCEPT_LANGUAGE": locale}
    page = visitor.get(callback_path(location), extra_environ=language).follow(
        extra_environ=language)
    assert text in page.text
    assert 'Mit Bitbucket anmelden' in page.text if locale == "de" else \
        "Log in with Bitbucket" in page.text
