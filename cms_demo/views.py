"""The demo's own page: a home page (the add-on sends anonymous editors to log in)."""

from __future__ import annotations

from typing import Any

from pyramid.config import Configurator

from cms_social_login.views.helpers import current_user


def home(request: Any) -> dict[str, Any]:
    """GET /: who is signed in."""
    return {"user": current_user(request)}


def includeme(config: Configurator) -> None:
    """Register the demo's views."""
    config.add_jinja2_search_path("cms_demo:templates", name=".jinja2", prepend=True)
    config.add_route("home", "/")
    config.add_view(home, route_name="home", renderer="demo_home.jinja2")
