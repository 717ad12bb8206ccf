"""A local OAuth 2.0 authorization server and resource server for tests.

:class:`OAuth2Emulator` is a small WSGI application (built on webob) that plays
the part of an OAuth 2.0 provider: it shows a consent page, issues
authorization codes, exchanges them for tokens at the token endpoint, rotates
refresh tokens and protects API endpoints with bearer tokens.  It is meant to
be subclassed once per provider (Bitbucket, GitHub, GitLab, OpenID Connect...):
a subclass sets the endpoint paths, the shape of its users and of its API
error bodies, and adds API handlers.

It can be used in-process as a WSGI app (``webtest.TestApp(emulator)``) or
served on an ephemeral localhost port by waitress (:meth:`OAuth2Emulator.start`)
so that ``requests`` and a real browser can reach it.  Tests can inject
failures (:meth:`OAuth2Emulator.fail`), read the request log
(:attr:`OAuth2Emulator.log`) and drive the provider side of the flow like a
user's browser would (:meth:`OAuth2Emulator.approve`,
:meth:`OAuth2Emulator.deny`).

One module per concern, each a mixin of :class:`OAuth2Emulator`; the modules
of the protocol's endpoints list the facts they follow with their sources:

- :mod:`.records`: clients, codes, tokens, armed failures, logged requests;
- :mod:`.state`: the shared records, lock and clock;
- :mod:`.registry`: OAuth clients and users, who is logged in at the provider;
- :mod:`.authorization`: the authorization endpoint and its consent page;
- :mod:`.tokens`: the token endpoint (grants, issuing, rotation, revocation);
- :mod:`.resource`: bearer tokens and scopes on API endpoints;
- :mod:`.responses`: JSON, HTML, OAuth and API error answers;
- :mod:`.controls`: fault injection, the request log, expiry, reset;
- :mod:`.serving`: serving on 127.0.0.1 in a daemon thread;
- :mod:`.browser`: playing the user's browser on the consent page;
- :mod:`.emulator`: the class that puts them together and dispatches.
"""

from .emulator import OAuth2Emulator
from .records import (
    Abort,
    AccessToken,
    AuthorizationCode,
    Client,
    Failure,
    LoggedRequest,
    RefreshToken,
)

__all__ = [
    "Abort",
    "AccessToken",
    "AuthorizationCode",
    "Client",
    "Failure",
    "LoggedRequest",
    "OAuth2Emulator",
    "RefreshToken",
]
