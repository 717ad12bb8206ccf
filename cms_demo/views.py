"""The demo's own pages: a home page and the sign-in redirect for protected pages."""

from __future__ import annotations

from typing import Any

from pyramid.config import Configurator
from pyramid.httpexceptions import HTTPSeeOther

from cms_social_login.views.public import current_user


def home(request: Any) -> dict[str, Any]:
    """GET /: who is signed in."""
    return {"user": current_user(request)}


def forbidden(request: Any):
    """Anonymous visitors go to the login page; signed-in non-editors get a 403 page."""
    if request.authenticated_userid is None and request.method == "GET":
        return HTTPSeeOther(request.route_url("cms_social_login.login",
                                              _query={"came_from": request.path_qs}))
    request.response.status_int = 403
    return {"user": current_user(request)}


def includeme(config: Configurator) -> None:
    """Register the demo's views."""
    config.add_jinja2_search_path("cms_demo:templates", name=".jinja2", prepend=True)
    config.add_route("home", "/")
    config.add_view(home, route_name="home", renderer="demo_home.jinja2")
    config.add_forbidden_view(forbidden, renderer="demo_forbidden.jinja2")
