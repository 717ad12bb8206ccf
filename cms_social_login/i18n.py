"""Translations: the message factory, the templates' ``_`` and the locale negotiator.

Every user-facing string is a message of the ``cms_social_login`` domain: ``_("...")`` in
Python (a ``TranslationString``, translated when shown) and ``{{ _("...") }}`` in the
add-on's templates. Catalogs live in ``cms_social_login/locale`` (English is the source
language; German ships); see the README for adding a language.
"""

from __future__ import annotations

from typing import Any

from pyramid.i18n import TranslationString, TranslationStringFactory
from pyramid.settings import aslist

DOMAIN = "cms_social_login"
_ = TranslationStringFactory(DOMAIN)
#: Locales the package ships catalogs for (English needs none).
SHIPPED_LOCALES = ("en", "de")


def translate(request: Any, message: Any, **mapping: Any) -> str:
    """``message`` (a TranslationString, or a msgid of this domain) in the request's locale.

    Mapping values that are TranslationStrings (a field's label inside an error) are
    translated first.
    """
    if message is None:
        return ""
    if not isinstance(message, TranslationString):
        message = TranslationString(str(message), domain=DOMAIN)
    mapping = {**(message.mapping or {}), **mapping}
    if mapping:
        mapping = {key: translate(request, value) if isinstance(value, TranslationString)
                   else value for key, value in mapping.items()}
        message = TranslationString(str(message), domain=message.domain or DOMAIN,
                                    default=message.default, mapping=mapping)
    return request.localizer.translate(message)


def english(message: Any) -> str:
    """``message`` in the source language, its ``${placeholders}`` filled in."""
    if isinstance(message, TranslationString):
        return message.interpolate()
    return str(message)


def add_template_globals(event: Any) -> None:
    """BeforeRender subscriber: the add-on's templates get ``_`` bound to the request."""
    name = event.get("renderer_name") or ""
    request = event.get("request")
    if request is not None and name.startswith("cms_social_login/"):
        event["_"] = lambda message, **mapping: translate(request, message, **mapping)


def negotiate_locale(request: Any) -> str | None:
    """``_LOCALE_`` (query or cookie) when offered, else the best Accept-Language match.

    The offered locales are ``cms_social_login.locales`` (default: the shipped ones);
    None leaves Pyramid's ``pyramid.default_locale_name``.
    """
    offered = aslist(request.registry.settings.get("cms_social_login.locales", "")) \
        or list(SHIPPED_LOCALES)
    try:
        asked = request.params.get("_LOCALE_")
    except UnicodeDecodeError:  # a query or form that is not UTF-8 (answered with a 400)
        asked = None
    asked = asked or request.cookies.get("_LOCALE_")
    if asked in offered:
        return asked
    return request.accept_language.lookup(offered, default="") or None
