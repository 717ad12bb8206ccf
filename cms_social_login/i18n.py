"""Translations: the message factory, the templates' ``_`` and the locale negotiator.

Every user-facing string is a message of the ``cms_social_login`` domain: ``_("...")`` in
Python (a ``TranslationString``, translated when shown) and ``{{ _("...") }}`` in the
add-on's templates. Catalogs live in ``cms_social_login/locale`` (English is the source
language; German ships); see the README for adding a language.
"""

from __future__ import annotations

from typing import Any

from pyramid.i18n import TranslationString, TranslationStringFactory

from .query import decoded_query
from .settings import site_name

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
    """BeforeRender subscriber: the add-on's templates get ``_`` bound to the request, and
    the site's name (``cms_social_login.site_name``) as ``site_name``."""
    name = event.get("renderer_name") or ""
    request = event.get("request")
    if request is not None and name.startswith("cms_social_login/"):
        event["_"] = lambda message, **mapping: translate(request, message, **mapping)
        event["site_name"] = site_name(request)


#: Routes whose pages choose their own language (the add-on's, all named with this prefix).
OWN_ROUTES = "cms_social_login."
#: Remembers a language chosen with ``?_LOCALE_=`` across the add-on's form posts. Not
#: Pyramid's ``_LOCALE_`` cookie, which the host's own negotiator may read.
LOCALE_COOKIE = "cms_social_login_locale"


def _offered(request: Any) -> tuple[str, ...]:
    """The offered locales (``cms_social_login.locales``, checked at start)."""
    return request.registry.social_login_settings.locales or SHIPPED_LOCALES


def _asked_in_query(request: Any) -> str | None:
    """``?_LOCALE_=``, or None (also for a query that is not UTF-8: answered with a 400)."""
    if not request.environ.get("QUERY_STRING"):
        return None  # no query to parse (most requests)
    query = decoded_query(request)
    return None if query is None else query.get("_LOCALE_")


def negotiate_locale(request: Any) -> str:
    """The language of the add-on's pages.

    ``?_LOCALE_=`` when offered, else the one chosen earlier (the add-on's cookie, or
    Pyramid's ``_LOCALE_`` cookie), else the best ``Accept-Language`` match, else
    ``pyramid.default_locale_name``. The offered locales are ``cms_social_login.locales``
    (default: the shipped ones).
    """
    offered = _offered(request)
    environ = request.environ
    asked = [_asked_in_query(request)]
    if "HTTP_COOKIE" in environ:
        asked += [request.cookies.get(LOCALE_COOKIE), request.cookies.get("_LOCALE_")]
    for choice in asked:
        if choice in offered:
            return choice
    matched = (request.accept_language.lookup(offered, default="")
               if "HTTP_ACCEPT_LANGUAGE" in environ else "")
    return matched or request.registry.settings.get("pyramid.default_locale_name") or "en"


def _remember_choice(asked: str):
    def callback(request: Any, response: Any) -> None:
        response.set_cookie(LOCALE_COOKIE, asked, max_age=365 * 24 * 3600, path="/",
                            httponly=True, samesite="Lax", secure=request.scheme == "https")

    return callback


def negotiate_on_own_pages(event: Any) -> None:
    """BeforeTraversal subscriber (a route matched, nothing else ran yet): on the add-on's
    routes only, the language is the add-on's choice (:func:`negotiate_locale`); every
    other page keeps the host's negotiator.

    A language asked for with ``?_LOCALE_=`` is remembered in :data:`LOCALE_COOKIE`, so
    the add-on's forms answer in it after a POST.
    """
    request = event.request
    route = getattr(request, "matched_route", None)
    if route is None or not route.name.startswith(OWN_ROUTES):
        return
    request.locale_name = negotiate_locale(request)
    request.__dict__.pop("localizer", None)  # made from the host's choice, if already used
    asked = _asked_in_query(request)
    if asked in _offered(request) and request.cookies.get(LOCALE_COOKIE) != asked:
        request.add_response_callback(_remember_choice(asked))
