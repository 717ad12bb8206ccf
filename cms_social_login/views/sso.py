"""Starting a provider login and coming back from it, the velruse way.

The callback route's factory finishes the login and makes the request's *context* an
``AuthenticationComplete`` (signed in) or an ``AuthenticationDenied`` (not signed in), and
the view registered for that context answers. The add-on registers the defaults: go back to
``came_from``, or back to a clean ``/login`` that shows the reason. A host replaces either by
registering its own view for the context in its configuration, e.g.
``config.add_view(welcome, context=AuthenticationComplete)``. The events
(``SocialLoginSucceeded`` / ``SocialLoginFailed``) are notified either way.
"""

from __future__ import annotations

from typing import Any

from pyramid.config import Configurator
from pyramid.httpexceptions import HTTPFound, HTTPMethodNotAllowed, HTTPSeeOther
from pyramid.renderers import render_to_response
from velruse import AuthenticationComplete, AuthenticationDenied

from ..i18n import translate
from ..redirects import site_location, site_route_url
from ..services.sso import LoginFailure, SocialLoginService, notify_failure
from ..services.test_login import is_test_login
from .editor import finish_test_login
from .helpers import LOGIN_FAILED_QUEUE, LOGIN_TEMPLATE, login_page

#: The flash queue that carries a failed login's message to the login page.
FAILED_LOGIN_QUEUE = LOGIN_FAILED_QUEUE


class TestLoginFinished:
    """The callback's context after an editor's Test login: nobody was signed in, and the
    result waits on the Test login page."""


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


def login_result(request: Any) -> AuthenticationComplete | AuthenticationDenied:
    """The callback route's factory: finish the login; the result is the context.

    ``AuthenticationComplete`` is the provider's answer (``profile``, ``credentials``,
    ``provider_name``, ``provider_type``) plus ``userid``, ``created`` and ``came_from``;
    the visitor is signed in already (the session's headers go on whatever response the
    view gives). ``AuthenticationDenied`` carries ``reason``, the visitor's message in the
    page's language, and ``provider_name``.
    """
    if request.method not in ("GET", "HEAD"):
        raise HTTPMethodNotAllowed()
    name = request.matchdict["provider"]
    params = dict(request.GET.items())
    if is_test_login(request, params):  # an editor's Test login: no sign-in, no account
        finish_test_login(request, name, params)
        return TestLoginFinished()
    try:
        outcome = SocialLoginService(request).complete(name, params)
    except LoginFailure as failure:
        notify_failure(request, name, failure)
        denied = AuthenticationDenied(reason=translate(request, failure.message),
                                      provider_name=name[:64])
        if failure.result is not None:
            denied.provider_type = getattr(failure.result, "provider_type", None)
        denied.status = failure.status
        return denied
    result = outcome.result
    result.userid, result.created, result.came_from = (
        outcome.userid, outcome.created, outcome.came_from)
    headers = outcome.headers
    request.add_response_callback(lambda _request, response: response.headerlist.extend(headers))
    return result


def login_complete(context: AuthenticationComplete, request: Any):
    """Default view of a finished login: back to where the visitor came from."""
    return HTTPSeeOther(site_location(request, context.came_from))


def login_denied(context: AuthenticationDenied, request: Any):
    """Default view of a failed login: a clean ``/login`` (no code or state left in the
    address bar) that shows the reason (Post/Redirect/Get with a flash message). A login
    option the site does not have is a 404 in place (there is nothing to retry)."""
    if getattr(context, "status", None) == 404:
        response = render_to_response(LOGIN_TEMPLATE, login_page(request, error=context.reason),
                                      request=request)
        response.status_int = 404
        return response
    request.session.pop_flash(FAILED_LOGIN_QUEUE)  # the latest failure only: the cookie stays small
    request.session.flash(context.reason, queue=FAILED_LOGIN_QUEUE)
    response = HTTPSeeOther(site_route_url(request, "cms_social_login.login"))
    response.cache_control = "no-store"
    return response


def test_login_finished(context: TestLoginFinished, request: Any):
    """After a Test login: its result, on a clean URL."""
    return HTTPSeeOther(site_route_url(request, "cms_social_login.editor_test_login"))


def includeme(config: Configurator) -> None:
    """Register the start view and the default views of the login contexts."""
    config.add_view(start, route_name="cms_social_login.start", request_method="GET")
    config.add_view(login_complete, context=AuthenticationComplete)
    config.add_view(login_denied, context=AuthenticationDenied)
    config.add_view(test_login_finished, context=TestLoginFinished)
