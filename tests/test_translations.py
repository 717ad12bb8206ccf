"""Every user-facing string is a message; English and German ship, chosen by the browser's
Accept-Language (or ``?_LOCALE_=``), with the tooling's own check in the suite."""

from __future__ import annotations

import pytest

from cms_social_login.scripts.catalogs import main as catalogs
from cms_social_login.scripts.catalogs import problems

from .helpers import callback_path, settings_form, start_login, submit_bitbucket

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
    form["bitbucket.client_secret"] = "a-secret-without-its-client-id"  # half filled
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


def english_left_on(page) -> list[str]:
    """Messages of the catalog that ``page`` shows in English although German exists.

    A message is looked for as a whole phrase (for one with ``${placeholders}``, its
    longest fixed part); messages whose words are also German (``OK``, ``Bitbucket``)
    and words that German translations contain themselves are not counted.
    """
    import re

    from cms_social_login.scripts.catalogs import LOCALE, _read

    catalog = _read(LOCALE / "de" / "LC_MESSAGES" / "cms_social_login.po", "de")
    german = [m.string for m in catalog if m.id and m.string]
    text = " ".join(page.html.select_one("main").get_text(" ", strip=True).split())
    left = []
    for message in catalog:
        if not message.id or not message.string or message.string == message.id:
            continue
        phrase = max(re.split(r"\$\{\w+\}", message.id), key=len).strip(" .:,()")
        if len(phrase) < 3 or any(phrase in translation for translation in german):
            continue
        if re.search(r"(?<!\w)" + re.escape(phrase) + r"(?!\w)", text):
            left.append(message.id)
    return left


def test_history_and_audit_pages_are_german_through_and_through(editor, make_browser,
                                                                 bitbucket, bitbucket_user):
    submit_bitbucket(editor, "save", client_id="first-key-1234").follow()
    submit_bitbucket(editor, "save").follow()
    visitor = make_browser()
    visitor.get(callback_path(bitbucket.approve(start_login(visitor)))).follow()
    denied = make_browser()
    denied.get(callback_path(bitbucket.deny(start_login(denied))))
    make_browser().get("/login/bitbucket/callback?state=" + "x" * 20, status=303)
    submit_bitbucket(editor, "apply", client_id="draft-key-9999", enabled=False,
                     client_secret="another-secret-value-123").follow()
    history = "/editor/system-pages/login/history"
    pages = {
        "history": editor.get(history, {"_LOCALE_": "de"}),
        "version": editor.get(f"{history}/1", {"_LOCALE_": "de"}),
        "all settings": editor.get(f"{history}/1", {"_LOCALE_": "de", "all": "1"}),
        "audit": editor.get("/editor/system-pages/login/audit", {"_LOCALE_": "de"}),
        "audit filtered": editor.get("/editor/system-pages/login/audit",
                                     {"_LOCALE_": "de", "kind": "signin"}),
    }
    assert {name: english_left_on(page) for name, page in pages.items()} \
        == {name: [] for name in pages}
    version = pages["all settings"].html.select_one("table.diff-table").get_text(" ")
    for word in ("Eingeschaltet", "Entwurf", "ja", "nein", "gesetzt", "geändert"):
        assert word in version
    audit = pages["audit"].html.select_one("main").get_text(" ")
    for words in ("Beim Anbieter abgebrochen", "Angemeldet", "Neues Konto angelegt",
                  "Veröffentlicht (Speichern)", "Nicht angemeldet", "Je Anbieter",
                  "Die Anmeldung mit Bitbucket wurde abgebrochen"):
        assert words in audit
    options = [o.get_text(strip=True) for o in pages["audit"].html.select("select option")]
    assert "Abgelaufener, wiederverwendeter oder unbekannter Anmeldelink" in options
