"""Starting a provider login and coming back from it."""

from __future__ import annotations

from typing import Any

from pyramid.config import Configurator
from pyramid.httpexceptions import HTTPFound, HTTPSeeOther
from pyramid.renderers import render_to_response

from ..services.sso import LoginFailure, SocialLoginService, notify_failure
from ..services.test_login import is_test_login
from .editor import finish_test_login
from .public import LOGIN_TEMPLATE, login_page


def _failure_page(request: Any, provider_name: str, failure: LoginFailure):
    notify_failure(request, provider_name, failure)
    response = render_to_response(LOGIN_TEMPLATE, login_page(request, error=failure.message),
                                  request=request)
    response.status_int = failure.status
    response.cache_control = "no-store"
    return response


def start(request: Any):
    """GET /login/{provider}: off to the provider's consent page."""
    name = request.matchdict["provider"]
    try:
        url = SocialLoginService(request).begin(name, request.params.get("came_from"))
    except LoginFailure as failure:
        return _failure_page(request, name, failure)
    response = HTTPFound(location=url)
    response.cache_control = "no-store"
    return response


def callback(request: Any):
    """GET /login/{provider}/callback: finish, sign in, go back to ``came_from``."""
    name = request.matchdict["provider"]
    params = {key: value for key, value in request.GET.items()}
    if is_test_login(request, params):  # an editor's Test login: no sign-in, no account
        return finish_test_login(request, name, params)
    try:
        outcome = SocialLoginService(request).complete(name, params)
    except LoginFailure as failure:
        return _failure_page(request, name, failure)
    return HTTPSeeOther(outcome.came_from, headers=outcome.headers)


def includeme(config: Configurator) -> None:
    """Register the SSO views."""
    config.add_view(start, route_name="cms_social_login.start", request_method="GET")
    config.add_view(callback, route_name="cms_social_login.callback", request_method="GET")
