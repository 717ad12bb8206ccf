"""``cms-social-login-i18n``: keep the message catalogs in step with the code.

    cms-social-login-i18n extract   # messages of code, templates and shipped providers -> .pot
    cms-social-login-i18n update    # merge the .pot into every locale's .po
    cms-social-login-i18n compile   # .po -> .mo (what Pyramid reads)
    cms-social-login-i18n check     # exit 1 if a message lacks a translation or a .mo is stale
    cms-social-login-i18n init LL   # start a new language

Besides ``_("...")`` in Python and ``{{ _("...") }}`` in templates, the labels the shipped
providers build from their title ("Bitbucket Client ID") are collected by instantiating
each provider of this package's entry points.
"""

from __future__ import annotations

import argparse
import gettext
import io
import sys
from datetime import datetime, timezone
from importlib.metadata import entry_points
from pathlib import Path

from babel.messages.catalog import Catalog
from babel.messages.extract import extract_from_dir
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po, write_po

from ..i18n import DOMAIN
from ..settings import PROVIDER_GROUP, SocialLoginSettings

PACKAGE = Path(__file__).resolve().parent.parent
LOCALE = PACKAGE / "locale"
POT = LOCALE / f"{DOMAIN}.pot"
METHODS = [("**/templates/**.jinja2", "jinja2"), ("**.py", "python")]
OPTIONS = {"**/templates/**.jinja2": {"encoding": "utf-8"}}


def _provider_texts() -> list[str]:
    """Labels and help of the providers this package ships (built from their titles)."""
    settings = SocialLoginSettings(secret_key="x" * 32)
    texts: list[str] = []
    for entry_point in entry_points(group=PROVIDER_GROUP):
        if not entry_point.value.startswith(f"{DOMAIN}."):
            continue
        provider = entry_point.load()(settings, name=entry_point.name)
        for field in provider.fields:
            texts += [str(text) for text in (field.label, field.help)
                      if text and "${" not in str(text)]
    return sorted(set(texts))


def build_template() -> Catalog:
    """The catalog template: every message, sorted, without source locations."""
    catalog = Catalog(project=DOMAIN, domain=DOMAIN, charset="utf-8",
                      creation_date=datetime(2026, 11, 28, tzinfo=timezone.utc),
                      fuzzy=False)
    for _filename, _lineno, message, comments, context in extract_from_dir(
            str(PACKAGE), METHODS, keywords={"_": None}, options_map=OPTIONS,
            strip_comment_tags=True):
        catalog.add(message, None, auto_comments=comments, context=context)
    for text in _provider_texts():
        catalog.add(text, None, auto_comments=["a shipped provider's field"])
    return catalog


def _write_po(path: Path, catalog: Catalog) -> None:
    buffer = io.BytesIO()
    write_po(buffer, catalog, omit_header=False, sort_output=True, width=100,
             no_location=True, ignore_obsolete=True)
    path.write_bytes(buffer.getvalue())


def _locales() -> list[Path]:
    return sorted(p.parent for p in LOCALE.glob(f"*/LC_MESSAGES/{DOMAIN}.po"))


def _read(path: Path, locale: str | None = None) -> Catalog:
    with path.open("rb") as handle:
        return read_po(handle, locale=locale, domain=DOMAIN)


def _mo_bytes(catalog: Catalog) -> bytes:
    buffer = io.BytesIO()
    write_mo(buffer, catalog, use_fuzzy=False)
    return buffer.getvalue()


def _mo_messages(data: bytes) -> dict[str, str]:
    """The translations a .mo holds (header aside), to compare catalogs by content."""
    catalog = gettext.GNUTranslations(io.BytesIO(data))
    return {key: value for key, value in catalog._catalog.items() if key}


def extract() -> None:
    """Write the .pot."""
    _write_po(POT, build_template())


def update() -> None:
    """Merge the .pot into each locale's .po (new messages empty, gone ones dropped)."""
    template = _read(POT)
    for folder in _locales():
        po = folder / f"{DOMAIN}.po"
        catalog = _read(po, folder.parent.name)
        catalog.update(template, update_header_comment=False, no_fuzzy_matching=True)
        _write_po(po, catalog)


def compile_catalogs() -> None:
    """Write each locale's .mo from its .po."""
    for folder in _locales():
        catalog = _read(folder / f"{DOMAIN}.po", folder.parent.name)
        (folder / f"{DOMAIN}.mo").write_bytes(_mo_bytes(catalog))


def problems() -> list[str]:
    """What is out of step: untranslated or missing messages, stale .pot or .mo files."""
    found = []
    template = build_template()
    current = _read(POT) if POT.exists() else Catalog()
    wanted = {m.id for m in template if m.id}
    if wanted != {m.id for m in current if m.id}:
        found.append(f"{POT.name} is stale: run cms-social-login-i18n extract")
    for folder in _locales():
        locale = folder.parent.name
        catalog = _read(folder / f"{DOMAIN}.po", locale)
        for msgid in sorted(wanted):
            message = catalog.get(msgid)
            if message is None or not message.string or message.fuzzy:
                found.append(f"{locale}: no translation for {msgid!r}")
        mo = folder / f"{DOMAIN}.mo"
        if not mo.exists() or _mo_messages(mo.read_bytes()) != _mo_messages(_mo_bytes(catalog)):
            found.append(f"{locale}: {mo.name} is stale: run cms-social-login-i18n compile")
    return found


def init(locale: str) -> None:
    """Start the catalog of a new language from the .pot."""
    folder = LOCALE / locale / "LC_MESSAGES"
    folder.mkdir(parents=True, exist_ok=True)
    template = _read(POT)
    catalog = Catalog(locale=locale, domain=DOMAIN, project=DOMAIN, fuzzy=False)
    catalog.update(template, no_fuzzy_matching=True)
    _write_po(folder / f"{DOMAIN}.po", catalog)


def main(argv: list[str] | None = None) -> int:
    """The command line."""
    parser = argparse.ArgumentParser(prog="cms-social-login-i18n",
                                     description="Keep cms_social_login's catalogs in step.")
    parser.add_argument("command", choices=["extract", "update", "compile", "check", "init"])
    parser.add_argument("locale", nargs="?", help="with init: the new language, e.g. fr")
    args = parser.parse_args(argv)
    if args.command == "extract":
        extract()
    elif args.command == "update":
        update()
    elif args.command == "compile":
        compile_catalogs()
    elif args.command == "init":
        if not args.locale:
            parser.error("init needs a language code")
        init(args.locale)
    else:
        found = problems()
        for line in found:
            print(line, file=sys.stderr)
        return 1 if found else 0
    return 0


if __name__ == "__main__":
    sys.exit(main())
