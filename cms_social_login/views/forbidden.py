"""Who may not open one of the add-on's pages: anonymous visitors are sent to log in.

Registered for the add-on's routes only (the host's own pages keep the host's forbidden
view). A host that wants its own page for a route registers a forbidden view with that
``route_name`` in its ``main()``: the host's configuration wins.
"""

from __future__ import annotations

from typing import Any

from pyramid.config import Configurator
from pyramid.httpexceptions import HTTPSeeOther

from ..redirects import site_route_url
from ..routes import ROUTES
from .helpers import current_user

TEMPLATE = "cms_social_login/forbidden.jinja2"


def forbidden(request: Any):
    """An anonymous GET goes to ``/login?came_from=<this page>``; anyone else gets 403."""
    if request.authenticated_userid is None and request.method == "GET":
        return HTTPSeeOther(site_route_url(request, "cms_social_login.login",
                                           _query={"came_from": request.path_qs}))
    request.response.status_int = 403
    return {"user": current_user(request)}


def includeme(config: Configurator) -> None:
    """Register :func:`forbidden` for each of the add-on's routes."""
    for route_name, _pattern in ROUTES:
        config.add_forbidden_view(forbidden, route_name=route_name, renderer=TEMPLATE)
