"""Connected accounts: a signed-in user sees, adds and removes their provider links."""

from __future__ import annotations

from typing import Any

from pyramid.config import Configurator
from pyramid.csrf import get_csrf_token
from pyramid.httpexceptions import HTTPBadRequest, HTTPSeeOther
from sqlalchemy import delete, func, select

from ..i18n import _, translate
from ..interfaces import IUserAdapter
from ..models import LinkedIdentity
from ..providers.registry import get_provider_registry
from ..services.published import live_buttons
from .public import current_user, refuse_oversized_form


def _login_redirect(request: Any) -> HTTPSeeOther:
    return HTTPSeeOther(request.route_url("cms_social_login.login",
                                          _query={"came_from": request.path}))


def connections_page(request: Any, *, error: str | None = None) -> Any:
    """GET /account/connections."""
    user = current_user(request)
    if user is None:
        return _login_redirect(request)
    identities = list(request.social_login_dbsession.scalars(
        select(LinkedIdentity).where(LinkedIdentity.userid == user.userid)
        .order_by(LinkedIdentity.provider)))
    registry = get_provider_registry(request.registry)
    linked = {identity.provider for identity in identities}
    return {
        "user": user,
        "identities": [(identity, registry.get(identity.provider)) for identity in identities],
        "available": [p for p in live_buttons(request) if p.name not in linked],
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
    if not raw.isdigit():
        raise HTTPBadRequest("Unknown connection.")
    identity = request.social_login_dbsession.get(LinkedIdentity, int(raw))
    if identity is None or identity.userid != user.userid:
        raise HTTPBadRequest("Unknown connection.")
    adapter = request.registry.getUtility(IUserAdapter)
    has_password = getattr(adapter, "has_password", lambda request, userid: False)
    others = request.social_login_dbsession.scalar(
        select(func.count()).select_from(LinkedIdentity)
        .where(LinkedIdentity.userid == user.userid, LinkedIdentity.id != identity.id))
    if not others and not has_password(request, user.userid):
        request.response.status_int = 409
        return connections_page(request, error=translate(request, _(
            "This is your only way to sign in, so it cannot be disconnected. Connect "
            "another provider (or set a password) first.")))
    provider = get_provider_registry(request.registry).get(identity.provider)
    title = provider.title if provider else identity.provider
    request.social_login_dbsession.execute(
        delete(LinkedIdentity).where(LinkedIdentity.id == identity.id))
    request.session.flash(translate(request, _("${title} is disconnected from your account.",
                                               mapping={"title": title})))
    return HTTPSeeOther(request.route_url("cms_social_login.connections"))


def includeme(config: Configurator) -> None:
    """Register the connected-accounts views (any signed-in user)."""
    template = "cms_social_login/account_connections.jinja2"
    config.add_view(connections_page, route_name="cms_social_login.connections",
                    request_method="GET", renderer=template, http_cache=0)
    config.add_view(disconnect, route_name="cms_social_login.connections",
                    request_method="POST", renderer=template, require_csrf=True, http_cache=0)
