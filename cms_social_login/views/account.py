"""Connected accounts: a signed-in user sees, adds and removes their provider links, and
may log out everywhere."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from pyramid.config import Configurator
from pyramid.csrf import get_csrf_token
from pyramid.httpexceptions import HTTPBadRequest, HTTPSeeOther
from sqlalchemy import delete, select

from ..i18n import _, translate
from ..models import LinkedIdentity
from ..providers.base import Provider
from ..providers.registry import get_provider_registry
from ..redirects import site_route_url
from ..services.login_settings import ProviderConfig
from ..services.published import live_buttons, published_document
from ..session import live_sessions
from ..sites import site_key
from ..users import has_password, password_page_url
from .helpers import current_user, refuse_oversized_form


@dataclass(frozen=True)
class Connection:
    """One linked identity as the page shows it."""

    identity: LinkedIdentity
    provider: Provider | None
    #: The editor's button title of the provider (its name when not installed).
    title: str
    #: Why it cannot be disconnected (None: it can).
    locked_reason: str | None


def _login_redirect(request: Any) -> HTTPSeeOther:
    return HTTPSeeOther(site_route_url(request, "cms_social_login.login",
                                       _query={"came_from": request.path}))


def _title(request: Any, provider: Provider | None, name: str) -> str:
    if provider is None:
        return name
    config = ProviderConfig.from_document(published_document(request), name)
    return provider.display_title(config.values)


def _last_way_in(request: Any, userid: str, connectable: list[Any]) -> str:
    """Why the only link cannot go, and only the ways in this site actually offers (a
    password only when the site has a page to set one)."""
    titles = ", ".join(button.title for button in connectable)
    password_page = password_page_url(request, userid)
    if connectable and password_page:
        hint = _("Connect ${providers} or set a password first.",
                 mapping={"providers": titles})
    elif connectable:
        hint = _("Connect ${providers} first.", mapping={"providers": titles})
    elif password_page:
        hint = _("Set a password for your account first.")
    else:  # this site offers no other way in: nothing to suggest
        return translate(request, _("It is your only way to sign in."))
    return translate(request, _("It is your only way to sign in. ${hint}",
                                mapping={"hint": translate(request, hint)}))


def connections_page(request: Any, *, error: str | None = None) -> Any:
    """GET /account/connections."""
    user = current_user(request)
    if user is None:
        return _login_redirect(request)
    identities = list(request.social_login_dbsession.scalars(
        select(LinkedIdentity).where(LinkedIdentity.site == site_key(request),
                                     LinkedIdentity.userid == user.userid)
        .order_by(LinkedIdentity.provider, LinkedIdentity.id)))
    registry = get_provider_registry(request.registry)
    linked = {identity.provider for identity in identities}
    connectable = [p for p in live_buttons(request) if p.name not in linked]
    alone = len(identities) == 1 and not has_password(request, user.userid)
    reason = _last_way_in(request, user.userid, connectable) if alone else None
    connections = []
    for identity in identities:
        provider = registry.get(identity.provider)
        connections.append(Connection(identity, provider,
                                      _title(request, provider, identity.provider), reason))
    return {
        "user": user,
        "connections": connections,
        "available": connectable,
        "password_page": password_page_url(request, user.userid) if alone else None,
        "sessions": live_sessions(request, user.userid),
        "error": error,
        "flash": request.session.pop_flash(),
        "csrf_token": get_csrf_token(request),
    }


def disconnect(request: Any):
    """POST /account/connections: remove one link, unless it is the last way in."""
    refuse_oversized_form(request)
    user = current_user(request)
    if user is None:
        return _login_redirect(request)
    raw = request.POST.get("identity", "")
    if not (raw.isascii() and raw.isdigit()) or len(raw) > 18:
        raise HTTPBadRequest("Unknown connection.")
    identity = request.social_login_dbsession.get(LinkedIdentity, int(raw))
    if (identity is None or identity.userid != user.userid
            or identity.site != site_key(request)):
        raise HTTPBadRequest("Unknown connection.")
    others = request.social_login_dbsession.scalars(
        select(LinkedIdentity.id).where(LinkedIdentity.site == identity.site,
                                        LinkedIdentity.userid == user.userid,
                                        LinkedIdentity.id != identity.id).limit(1)).first()
    if others is None and not has_password(request, user.userid):
        request.response.status_int = 409
        return connections_page(request, error=translate(request, _(
            "This is your only way to sign in, so it cannot be disconnected.")))
    provider = get_provider_registry(request.registry).get(identity.provider)
    title = _title(request, provider, identity.provider)
    # The account stays: with the default adapter it is kept by its other identities
    # (they share its userid), with a host's adapter it lives in the host's table.
    request.social_login_dbsession.execute(
        delete(LinkedIdentity).where(LinkedIdentity.id == identity.id))
    request.session.flash(translate(request, _("${title} is disconnected from your account.",
                                               mapping={"title": title})))
    return HTTPSeeOther(site_route_url(request, "cms_social_login.connections"))


def includeme(config: Configurator) -> None:
    """Register the connected-accounts views (any signed-in user)."""
    template = "cms_social_login/account_connections.jinja2"
    config.add_view(connections_page, route_name="cms_social_login.connections",
                    request_method="GET", renderer=template, http_cache=0)
    config.add_view(disconnect, route_name="cms_social_login.connections",
                    request_method="POST", renderer=template, require_csrf=True, http_cache=0)
