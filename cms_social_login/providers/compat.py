"""The provider API's checks at start: a provider class written against the 0.x API, or
whose declared abilities disagree with its methods, is refused when the site starts
(``config.commit()``), with a message that says exactly what to change.

The conformance suite runs the same checks (:func:`api_problems`).
"""

from __future__ import annotations

import inspect

from .base import OAuth2Provider, Provider

#: Declared ability -> the method that implements it.
ABILITIES = {
    "can_verify_credentials": "verify_credentials",
    "can_use_client_credentials": "client_credentials_token",
    "can_refresh": "refresh",
    "can_log_out": "logout_url",
    "membership_rule": "member_pages",
}

#: 0.x methods whose signature changed: name -> (a parameter only the 0.x one has, what
#: to write instead).
CHANGED = {
    "authorize_redirect": ("request", "authorize_redirect(self, login) with a LoginContext: "
                           "read login.values, login.state, login.redirect_uri, "
                           "login.code_verifier and login.nonce (no request is passed)"),
    "complete": ("request", "complete(self, login, params) with a LoginContext: read "
                 "login.values, login.redirect_uri, login.code_verifier and login.nonce "
                 "(no request is passed)"),
    "token_profile": ("nonce", "token_profile(self, token, login): the nonce is login.nonce "
                      "and the tab's values login.values"),
    "exchange_code": ("redirect_uri", "exchange_code(self, login, code), or better no "
                      "override: Authlib's client does the exchange"),
}

#: What ``OAuth2Provider`` does itself: a subclass's 0.x override of these is usually not
#: needed at all (a 0.x blog post overrode ``authorize_redirect`` to add a scope).
OAUTH2_BUILT = {
    "authorize_redirect": "OAuth2Provider builds the authorize URL from scopes, uses_pkce "
                          "and authorize_scopes(values)",
    "complete": "OAuth2Provider completes the login and calls fetch_profile(token, values)",
}

#: 0.x hooks that API 1.0 no longer calls -> what to write instead.
REMOVED = {
    "authorize_params": "declare scopes (and membership_rule.scope), or override "
                        "authorize_scopes(values); Authlib's client builds the rest of the "
                        "authorize URL",
    "read_token_response": "put the provider's own token error codes in "
                           "token_error_codes = {its code: the RFC 6749 code}",
    "read_refresh_response": "put the provider's own token error codes in "
                             "token_error_codes = {its code: the RFC 6749 code}",
    "token_request": "set client_auth = 'basic' or 'post', or override "
                     "token_auth_method(values)",
}

#: Classes of the API itself: what they define is not the plugin's own.
API_CLASSES = (Provider, OAuth2Provider)


def _own(cls: type, name: str) -> object | None:
    """``name`` as the plugin defines it (in a class of ``cls``'s MRO that is not part of
    the API), else None."""
    for klass in cls.__mro__:
        if klass in API_CLASSES or klass is object:
            return None
        if name in vars(klass):
            return vars(klass)[name]
    return None


def _implemented(cls: type, method: str) -> bool:
    return inspect.getattr_static(cls, method) is not inspect.getattr_static(Provider,
                                                                             method)


def api_problems(cls: type) -> list[str]:
    """What ``cls`` must change to meet provider API 1.0 (empty: nothing)."""
    problems = []
    for method, (old_parameter, instead) in CHANGED.items():
        own = _own(cls, method)
        if callable(own) and old_parameter in inspect.signature(own).parameters:
            built = OAUTH2_BUILT.get(method) if issubclass(cls, OAuth2Provider) else None
            problems.append(f"{method}() has the 0.x signature; write {instead}"
                            + (f", or delete it ({built})" if built else ""))
    for method, instead in REMOVED.items():
        if _own(cls, method) is not None:
            problems.append(f"{method}() is no longer called; {instead}")
    for ability, method in ABILITIES.items():
        declared = bool(inspect.getattr_static(cls, ability))
        if declared and not _implemented(cls, method):
            problems.append(f"it declares {ability} but does not implement {method}()")
        elif not declared and _own(cls, method) is not None:
            value = "MembershipRule(...)" if ability == "membership_rule" else "True"
            problems.append(f"it implements {method}() but does not declare "
                            f"{ability} = {value}")
    return problems


def check_provider_class(cls: type, name: str) -> str | None:
    """The start-up error for provider ``name`` of class ``cls``, or None when it meets
    API 1.0."""
    problems = api_problems(cls)
    if not problems:
        return None
    return (f"provider {name!r} ({cls.__module__}.{cls.__qualname__}) does not meet "
            f"cms_social_login's provider API 1.0 (docs/writing-a-provider.md): "
            + "; ".join(problems) + ".")
