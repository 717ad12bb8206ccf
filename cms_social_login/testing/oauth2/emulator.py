"""The OAuth 2.0 provider emulator: one WSGI app made of one mixin per concern.

Each concern lives in a module of its own (see the package's docstring); this
module puts them together and dispatches each request to its endpoint.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

import webob

from .authorization import AuthorizationMixin
from .browser import BrowserMixin
from .controls import ControlsMixin
from .records import Abort
from .registry import RegistryMixin
from .resource import ResourceServerMixin
from .responses import ResponsesMixin
from .serving import ServingMixin
from .tokens import TokenEndpointMixin


class OAuth2Emulator(
    AuthorizationMixin,
    TokenEndpointMixin,
    ResourceServerMixin,
    RegistryMixin,
    ControlsMixin,
    ResponsesMixin,
    ServingMixin,
    BrowserMixin,
):
    """A generic OAuth 2.0 authorization server + resource server, as a WSGI app.

    Subclasses customise it through class attributes (paths, TTLs, names) and
    hooks (:meth:`make_user`, :meth:`error_body`, :meth:`token_response`...),
    and add API endpoints by listing ``path -> endpoint name`` pairs in
    :attr:`api_routes` and defining ``handle_<endpoint name>(request)``.
    """

    def routes(self) -> dict[str, str]:
        """The ``path -> endpoint name`` dispatch table."""
        return {self.authorize_path: "authorize", self.token_path: "token", **self.api_routes}

    def __call__(self, environ: dict, start_response: Callable) -> Iterable[bytes]:
        request = webob.Request(environ)
        response = self.handle(request)
        return response(environ, start_response)

    @property
    def wsgi_app(self) -> OAuth2Emulator:
        """The WSGI application (the emulator itself)."""
        return self

    def handle(self, request: webob.Request) -> webob.Response:
        """Log, apply armed failures, and dispatch ``request`` to its handler."""
        path = request.path_info
        if len(path) > 1:
            path = path.rstrip("/")
        endpoint = self.routes().get(path)
        self._log(request, endpoint)
        if endpoint is None:
            return self.api_error(404, f"Resource not found: {request.path_info}")
        failure = self._take_failure(endpoint)
        if failure is not None:
            if failure.delay:
                self._stopping.wait(failure.delay)
            if failure.status is not None:
                return self._failure_response(failure)
        try:
            return getattr(self, f"handle_{endpoint}")(request)
        except Abort as abort:
            return abort.response
