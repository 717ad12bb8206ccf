"""What the site does with a provider beyond one login: warm its caches at Save, and end
the visitor's session there at logout (OpenID Connect RP-Initiated Logout)."""

from __future__ import annotations

import logging
import secrets
from collections.abc import Mapping
from typing import Any

from ..crypto import SecretDecryptionError
from ..interfaces import ISecretBox
from ..providers.errors import ProviderError
from ..providers.registry import get_provider_registry
from ..redirects import site_route_url
from .login_settings import ProviderConfig

log = logging.getLogger(__name__)

#: Session key of the login's provider and ID token (kept for the logout; never logged).
PROVIDER_LOGIN_KEY = "cms_social_login.provider_login"
#: The longest ID token the session keeps (characters): with the signed-in session's own
#: keys, its JSON in base64 and the signature, the cookie stays under 4,096 bytes, with
#: room for a login started on top of it (connecting another account).
MAX_KEPT_ID_TOKEN = 2400


def warm_providers(request: Any, document: Mapping[str, Any]) -> list[str]:
    """Let every enabled, complete provider of ``document`` fetch what logins need now.

    Returns the editor's warnings in words (one per provider that could not be
    prepared); fetch failures are also remembered briefly by the provider, so visitors
    do not retry them.
    """
    box = request.registry.getUtility(ISecretBox)
    warnings = []
    for provider in get_provider_registry(request.registry):
        config = ProviderConfig.from_document(document, provider.name)
        if not (config.enabled and config.is_complete(provider)):
            continue
        try:
            warning = provider.warm(config.plain_values(provider, box))
        except SecretDecryptionError:
            continue  # the login says so; the secret key is the operator's business
        if warning:
            warnings.append(warning)
    return warnings


def remember_provider_login(request: Any, provider_name: str, credentials: Mapping[str, Any]
                            ) -> None:
    """Keep the login's ID token in the (new) session, for :func:`provider_logout_url`.

    An ID token longer than :data:`MAX_KEPT_ID_TOKEN` (a directory's many groups) is not
    kept: the session cookie could not hold it (a browser keeps 4,096 bytes), so the
    visitor signs in and the logout ends the site's session only.
    """
    id_token = credentials.get("idToken")
    if not (isinstance(id_token, str) and id_token):
        return
    if len(id_token) > MAX_KEPT_ID_TOKEN:
        log.info("ID token of %s characters not kept for the logout at %s (more than %s)",
                 len(id_token), provider_name[:64], MAX_KEPT_ID_TOKEN)
        return
    request.session[PROVIDER_LOGIN_KEY] = {"provider": provider_name, "id_token": id_token}


def post_logout_url(request: Any) -> str:
    """The site's "You are logged out" page, under ``site_url`` when set."""
    return site_route_url(request, "cms_social_login.logged_out")


def provider_logout_url(request: Any) -> str | None:
    """Where the logout should send the browser to end the provider's session too, or
    None (a local logout only).

    Call it before the session is dropped. The provider of the visitor's login decides
    (:meth:`~cms_social_login.providers.base.Provider.logout_url`); a provider that is
    no longer published or cannot be reached gives a local logout.
    """
    from .sso import LoginFailure, SocialLoginService  # sso imports this module

    stored = request.session.get(PROVIDER_LOGIN_KEY)
    if not isinstance(stored, dict) or not isinstance(stored.get("id_token"), str):
        return None
    name = str(stored.get("provider"))
    try:
        provider, _config, values = SocialLoginService(request).live_provider(name)
        return provider.logout_url(values, stored["id_token"], post_logout_url(request),
                                   secrets.token_urlsafe(16))
    except LoginFailure as exc:
        log.info("logout at the provider skipped: %s", exc.cause)
    except ProviderError as exc:
        log.warning("logout at the provider skipped: provider=%s cause=%s", name[:64],
                    exc.cause)
    return None
