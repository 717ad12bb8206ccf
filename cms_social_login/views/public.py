"""The public login page (password form of the host plus provider buttons) and logout."""

from __future__ import annotations

from typing import Any

from markupsafe import escape
from pyramid.config import Configurator
from pyramid.csrf import get_csrf_token
from pyramid.httpexceptions import HTTPSeeOther
from pyramid.renderers import render
from pyramid.response import Response

from ..i18n import _, translate
from ..interfaces import IUserAdapter
from ..redirects import safe_came_from, site_location, site_route_url
from ..services.provider_sessions import provider_logout_url
from ..services.published import PAGES_PER_SITE, published_snapshot, shared, site_pages
from ..session import check_login_form, has_session, login_form_token, sign_in, sign_out
from ..settings import site_name
from .helpers import (
    LOGGED_OUT_QUEUE,
    LOGIN_FAILED_QUEUE,
    LOGIN_TEMPLATE,
    current_user,
    login_page,
    refuse_oversized_form,
)

#: What a rendered page holds in place of the visitor's CSRF token.
TOKEN_PLACEHOLDER = "cms-social-login-csrf-token-placeholder"
_TOKEN = TOKEN_PLACEHOLDER.encode()


#: A site's name splits its page (to share what lies around it) only where it shows
#: this many times at most (a name like "in" would cut the page into crumbs).
_NAME_SPLITS = 8


def _cut(parts: list[bytes], value: bytes, kept: list[bytes]) -> list[bytes]:
    """``parts`` with each part that is not one of the ``kept`` objects cut at ``value``
    (kept as the one object ``value``, its own part)."""
    result: list[bytes] = []
    for part in parts:
        if any(part is own for own in kept):
            result.append(part)
            continue
        for index, text in enumerate(part.split(value)):
            if index:
                result.append(value)
            if text:
                result.append(text)
    return result


def _page_parts(registry: Any, body: bytes, address: bytes, name: bytes
                ) -> tuple[tuple[bytes, ...], ...]:
    """``body`` cut at the token placeholder, each piece cut at the site's ``address``
    and its (escaped) ``name``, kept as their own parts: what lies between is the same on
    every site with the same buttons and language, so the sites share it (:func:`shared`).
    Joined again, the parts are ``body`` byte for byte."""
    own = [value for value in (address, name) if value]
    if name and body.count(name) > _NAME_SPLITS:
        own.remove(name)
    pieces = []
    for piece in body.split(_TOKEN):
        parts = [piece]
        for value in own:
            parts = _cut(parts, value, own)
        pieces.append(tuple(part if any(part is value for value in own)
                            else shared(registry, part) for part in parts))
    return tuple(pieces)


def anonymous_login_page(request: Any) -> Response:
    """The login page of a visitor who is not signed in, has no message waiting and
    came from nowhere in particular: the same page for every such visitor but for the
    CSRF token. It is rendered once per site, published version, language and site
    address in each process (at most :data:`PAGES_PER_SITE` per site, for at most
    ``site_cache_size`` sites, forgotten with the site's snapshot on Save); each request
    only puts its token in."""
    snapshot = published_snapshot(request)
    site = request.social_login_site
    # The whole Site (key, base URL, name): a site the resolver renames gets a new page.
    address = request.application_url.encode()
    key = (site, snapshot.key, request.locale_name, address)
    pages = site_pages(request.registry)
    held = pages.get(site.key) or ()
    page = next((parts for page_key, parts in held if page_key == key), None)
    if page is None:
        values = login_page(request)
        values["login"]["csrf_token"] = TOKEN_PLACEHOLDER
        body = render(LOGIN_TEMPLATE, values, request=request).encode()
        page = _page_parts(request.registry, body, address,
                           str(escape(site_name(request))).encode())
        # Most recent first; pages of an older published version go at once.
        kept = tuple(pair for pair in held if pair[0][1] == snapshot.key)
        pages.put(site.key, ((key, page),) + kept[:PAGES_PER_SITE - 1])
    token = login_form_token(request).encode()
    return Response(token.join(b"".join(parts) for parts in page),
                    content_type="text/html", charset="UTF-8")


def show_login(request: Any):
    """GET /login (with the message of a login that just failed, if any).

    A visitor without a session gets none: the page needs no cookie (see
    :func:`cms_social_login.session.login_form_token`).
    """
    if request.authenticated_userid is None and "came_from" not in request.GET and (
            not has_session(request) or not (request.session.peek_flash(LOGIN_FAILED_QUEUE)
                                             or request.session.peek_flash(LOGGED_OUT_QUEUE))):
        return anonymous_login_page(request)
    # peek first: popping an empty queue would rewrite every visitor's cookie
    failed = request.session.pop_flash(LOGIN_FAILED_QUEUE) if request.session.peek_flash(
        LOGIN_FAILED_QUEUE) else []
    return login_page(request, error=failed[0] if failed else None)


def password_login(request: Any):
    """POST /login: the host's username and password check, through the user adapter."""
    refuse_oversized_form(request)
    check_login_form(request)
    adapter = request.registry.getUtility(IUserAdapter)
    login = str(request.POST.get("login", ""))[:255].strip()
    password = str(request.POST.get("password", ""))[:1024]
    userid = adapter.authenticate(request, login, password) if adapter.password_login else None
    if userid is None:
        request.response.status_int = 400
        return login_page(request, error=_("Wrong username or password."), login_name=login)
    headers = sign_in(request, userid)
    return HTTPSeeOther(site_location(request, safe_came_from(request.POST.get("came_from"))),
                        headers=headers)


def logout_page(request: Any):
    """GET /logout: a page with one "Log out" button (a GET never changes anything)."""
    user = current_user(request)
    if user is None:
        return HTTPSeeOther(site_route_url(request, "cms_social_login.login"))
    return {"user": user, "csrf_token": get_csrf_token(request)}


def logout(request: Any):
    """POST /logout (CSRF-checked): end the signed-in session on the server (with
    ``everywhere``: every session of the user), drop the cookie, and say so on /login
    (or, after a login whose provider logs out too, at the provider first)."""
    refuse_oversized_form(request)
    everywhere = request.POST.get("everywhere") in ("on", "1", "true")
    at_provider = provider_logout_url(request)  # reads the session: before it is dropped
    headers = sign_out(request, everywhere=everywhere)
    if at_provider is not None:  # the provider sends the browser to /logout/done
        return HTTPSeeOther(at_provider, headers=headers)
    done = (_("You are logged out on every browser and device.") if everywhere
            else _("You are logged out."))
    request.session.flash(translate(request, done), LOGGED_OUT_QUEUE)
    response = HTTPSeeOther(site_route_url(request, "cms_social_login.login"), headers=headers)
    response.cache_control = "no-store"
    return response


def logged_out(request: Any) -> dict[str, Any]:
    """GET /logout/done: where a provider sends the browser back after logging out ("You
    are logged out" only when nobody is signed in: another tab may have signed in since)."""
    signed_in = request.authenticated_userid is not None
    return login_page(request, message=None if signed_in else _("You are logged out."))


def includeme(config: Configurator) -> None:
    """Register the public views."""
    config.add_view(show_login, route_name="cms_social_login.login", request_method="GET",
                    renderer=LOGIN_TEMPLATE)
    # CSRF-checked by the view: a session's token or a login form token (session.py).
    config.add_view(password_login, route_name="cms_social_login.login",
                    request_method="POST", renderer=LOGIN_TEMPLATE, require_csrf=False)
    config.add_view(logout_page, route_name="cms_social_login.logout", request_method="GET",
                    renderer="cms_social_login/logout.jinja2", http_cache=0)
    config.add_view(logout, route_name="cms_social_login.logout", request_method="POST",
                    require_csrf=True)
    config.add_view(logged_out, route_name="cms_social_login.logged_out",
                    request_method="GET", renderer=LOGIN_TEMPLATE, http_cache=0)
