"""The public login page (password form of the host plus provider buttons) and logout."""

from __future__ import annotations

from typing import Any

from pyramid.config import Configurator
from pyramid.csrf import get_csrf_token
from pyramid.httpexceptions import HTTPBadRequest, HTTPSeeOther
from pyramid.security import forget, remember

from ..i18n import _, translate
from ..interfaces import IUserAdapter
from ..redirects import safe_came_from
from ..services.published import live_buttons

LOGIN_TEMPLATE = "cms_social_login/login.jinja2"


def current_user(request: Any):
    """The signed-in ``SiteUser``, or None."""
    userid = request.authenticated_userid
    if userid is None:
        return None
    return request.registry.getUtility(IUserAdapter).get_user(request, userid)


def login_page(request: Any, *, message: str | None = None, error: str | None = None,
               document: dict | None = None, preview: bool = False,
               login_name: str = "") -> dict[str, Any]:
    """The values of the login page template (``document`` None means the live one)."""
    adapter = request.registry.getUtility(IUserAdapter)
    came_from = safe_came_from(request.params.get("came_from"))
    card = {
        "providers": live_buttons(request, document),
        "came_from": came_from,
        "password_login": adapter.password_login,
        "message": translate(request, message) if message else None,
        "error": translate(request, error) if error else None,
        "preview": preview,
        "login_name": login_name,
        "csrf_token": get_csrf_token(request),
    }
    return {"login": card, "preview": preview, "user": current_user(request)}


def refuse_oversized_form(request: Any) -> None:
    """400 for a form body over ``cms_social_login.max_form_bytes`` (read no further)."""
    limit = request.registry.social_login_settings.max_form_bytes
    length = request.content_length
    if length is not None and length > limit:
        raise HTTPBadRequest(translate(request, _("The form is too large.")))
    if length is None and request.is_body_readable:
        raise HTTPBadRequest(translate(request, _("A form must be sent with its length.")))


def show_login(request: Any) -> dict[str, Any]:
    """GET /login (with the message of a login that just failed, if any)."""
    failed = request.session.pop_flash("cms_social_login.login_failed")
    return login_page(request, error=failed[0] if failed else None)


def password_login(request: Any):
    """POST /login: the host's username and password check, through the user adapter."""
    refuse_oversized_form(request)
    adapter = request.registry.getUtility(IUserAdapter)
    login = str(request.POST.get("login", ""))[:255].strip()
    password = str(request.POST.get("password", ""))[:1024]
    userid = adapter.authenticate(request, login, password) if adapter.password_login else None
    if userid is None:
        request.response.status_int = 400
        return login_page(request, error=_("Wrong username or password."), login_name=login)
    request.session.invalidate()
    headers = remember(request, userid)
    return HTTPSeeOther(safe_came_from(request.POST.get("came_from")), headers=headers)


def logout(request: Any):
    """GET or POST /logout: forget the user and drop the session."""
    headers = forget(request)
    request.session.invalidate()
    return HTTPSeeOther(request.route_url("cms_social_login.login"), headers=headers)


def includeme(config: Configurator) -> None:
    """Register the public views."""
    config.add_view(show_login, route_name="cms_social_login.login", request_method="GET",
                    renderer=LOGIN_TEMPLATE)
    config.add_view(password_login, route_name="cms_social_login.login",
                    request_method="POST", renderer=LOGIN_TEMPLATE, require_csrf=True)
    config.add_view(logout, route_name="cms_social_login.logout")
