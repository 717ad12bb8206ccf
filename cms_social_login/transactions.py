"""A transaction for every request but the anonymous login page (an opt-in for hosts).

pyramid_tm begins a transaction for each request and pyramid_retry wraps it, which is
a good share of a login page that costs no statement at all. A host whose site
resolver and security policy need no database for a visitor without cookies can let
that page skip both::

    tm.activate_hook = cms_social_login.transactions.needs_transaction
    retry.activate_hook = cms_social_login.transactions.retry_attempts

(the demo's development.ini and production.ini do). The page reads nothing in the
request's transaction: the published snapshot is read in autocommit
(:func:`cms_social_login.services.published.published_snapshot`), the page comes from
the process's cache and a visitor without cookies has no session and no account.
"""

from __future__ import annotations

from typing import Any

from pyramid.interfaces import IRoutesMapper

from .i18n import LOCALE_COOKIE

#: The route of the login page.
LOGIN_ROUTE = "cms_social_login.login"
#: Cookies that say nothing about who the visitor is (the language chosen on our pages).
HARMLESS_COOKIES = frozenset({LOCALE_COOKIE, "_LOCALE_"})


def needs_transaction(request: Any) -> bool:
    """False only for a GET or HEAD of the login page that carries no credentials: no
    ``Authorization`` header and no cookie but the language ones."""
    if request.method not in ("GET", "HEAD") or "HTTP_AUTHORIZATION" in request.environ:
        return True
    if "HTTP_COOKIE" in request.environ and not HARMLESS_COOKIES.issuperset(request.cookies):
        return True
    mapper = request.registry.queryUtility(IRoutesMapper)
    route = mapper.get_route(LOGIN_ROUTE) if mapper is not None else None
    return route is None or route.match(request.path_info) is None


def retry_attempts(request: Any) -> int | None:
    """pyramid_retry's ``retry.activate_hook``: one attempt (nothing to retry, no copy of
    the body) where :func:`needs_transaction` is False, else ``retry.attempts``."""
    return None if needs_transaction(request) else 1
