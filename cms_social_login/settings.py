"""Typed settings of the add-on, read once at start from the ini and the environment.

Every setting under the ``cms_social_login.`` prefix may be overridden by an environment
variable ``CMS_SOCIAL_LOGIN_<NAME>``: the part after the prefix in upper case with dots
turned into underscores, e.g. ``CMS_SOCIAL_LOGIN_BITBUCKET_API_URL`` for
``cms_social_login.bitbucket.api_url`` and ``CMS_SOCIAL_LOGIN_SQLALCHEMY_URL`` for the
add-on's own ``cms_social_login.sqlalchemy.url``. The variable wins. The host's settings
(``sqlalchemy.url`` among them) are never written.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping, MutableMapping
from dataclasses import dataclass, field
from importlib.metadata import entry_points

from pyramid.exceptions import ConfigurationError
from pyramid.settings import asbool, aslist

PREFIX = "cms_social_login."
#: The entry point group of provider plugins.
PROVIDER_GROUP = "cms_social_login.providers"
ENV_PREFIX = "CMS_SOCIAL_LOGIN_"
#: The key the demo ``development.ini`` ships with; refused outside demo mode.
DEMO_SECRET_KEY = "demo-only-secret-key-change-me-before-production"
MIN_SECRET_KEY_LENGTH = 32


def env_name(setting: str) -> str:
    """The environment variable that overrides ``setting``."""
    name = setting[len(PREFIX):] if setting.startswith(PREFIX) else setting
    return ENV_PREFIX + name.replace(".", "_").upper()


def _setting_for(variable: str, settings: Mapping[str, object]) -> str:
    """The setting a ``CMS_SOCIAL_LOGIN_*`` variable names when the ini does not list it.

    Underscores stay underscores (``SECRET_KEY`` -> ``secret_key``), except after a
    provider's name, which becomes a dotted prefix (``BITBUCKET_API_URL`` ->
    ``bitbucket.api_url``). Providers are the installed entry points plus the instances
    named in ``cms_social_login.oidc.providers``.
    """
    rest = variable[len(ENV_PREFIX):].lower()
    if rest == "sqlalchemy_url":
        return PREFIX + "sqlalchemy.url"
    names = {entry_point.name for entry_point in entry_points(group=PROVIDER_GROUP)}
    names.update(aslist(str(settings.get(PREFIX + "oidc.providers") or "")))
    for name in sorted(names, key=len, reverse=True):
        if rest.startswith(name.replace("-", "_") + "_"):
            return f"{PREFIX}{name}.{rest[len(name) + 1:]}"
    return PREFIX + rest


def apply_environment(settings: MutableMapping[str, object],
                      environ: Mapping[str, str] | None = None) -> None:
    """Override ``settings`` in place from ``CMS_SOCIAL_LOGIN_*`` variables.

    Keys the ini lists are matched by their variable name; a variable for a key the ini
    does not list is added under the name :func:`_setting_for` gives it.
    """
    environ = os.environ if environ is None else environ
    wanted = {env_name(key): key for key in settings if key.startswith(PREFIX)}
    for var, value in environ.items():
        if var.startswith(ENV_PREFIX):
            settings[wanted.get(var) or _setting_for(var, settings)] = value


@dataclass(frozen=True)
class SocialLoginSettings:
    """The add-on's settings, converted and checked."""

    secret_key: str
    demo: bool = False
    providers: tuple[str, ...] | None = None
    http_timeout: float = 10.0
    editor_permission: str = "cms_social_login.edit"
    state_ttl: int = 600
    #: The site's public base URL (``https://example.org``); callback URLs are built from
    #: it instead of the request's Host header when set.
    site_url: str | None = None
    #: Seconds of inactivity after which the session cookie stops working.
    session_timeout: int = 43200
    #: Form bodies larger than this are refused with 400.
    max_form_bytes: int = 65536
    #: Store each login's access and refresh tokens (encrypted) for
    #: ``request.social_token(provider)``; off by default.
    store_tokens: bool = False
    raw: Mapping[str, object] = field(default_factory=dict, repr=False)

    def provider_setting(self, provider: str, name: str, default: str) -> str:
        """The value of ``cms_social_login.<provider>.<name>``, or ``default``."""
        value = self.raw.get(f"{PREFIX}{provider}.{name}")
        return str(value).strip() if value not in (None, "") else default

    @classmethod
    def from_settings(cls, settings: Mapping[str, object]) -> SocialLoginSettings:
        """Convert the ini settings; a missing or weak secret key is a ConfigurationError."""
        demo = asbool(settings.get(PREFIX + "demo", False))
        secret = str(settings.get(PREFIX + "secret_key") or "").strip()
        if not secret:
            raise ConfigurationError(
                f"{PREFIX}secret_key is required: set it in the ini file or in "
                f"{env_name(PREFIX + 'secret_key')} (a long random string)."
            )
        if not demo and (secret == DEMO_SECRET_KEY or len(secret) < MIN_SECRET_KEY_LENGTH):
            raise ConfigurationError(
                f"{PREFIX}secret_key is the demo key or shorter than {MIN_SECRET_KEY_LENGTH} "
                f"characters; set a long random key (only {PREFIX}demo = true accepts it)."
            )
        providers = settings.get(PREFIX + "providers")
        names = tuple(aslist(providers)) if providers not in (None, "") else None
        try:
            timeout = float(settings.get(PREFIX + "http_timeout", 10))
            state_ttl = int(settings.get(PREFIX + "state_ttl", 600))
            max_form_bytes = int(settings.get(PREFIX + "max_form_bytes", 65536))
            session_timeout = int(settings.get(PREFIX + "session_timeout", 43200))
        except (TypeError, ValueError) as exc:
            raise ConfigurationError(
                f"{PREFIX}http_timeout / state_ttl / max_form_bytes: {exc}") from exc
        if timeout <= 0:
            raise ConfigurationError(f"{PREFIX}http_timeout must be a positive number of seconds")
        site_url = str(settings.get(PREFIX + "site_url") or "").strip().rstrip("/") or None
        if site_url and not re.fullmatch(r"https?://[^/?#\s]+(/[^?#\s]*)?", site_url):
            raise ConfigurationError(f"{PREFIX}site_url must be an absolute http(s) URL, "
                                     f"got {site_url!r}")
        return cls(
            secret_key=secret,
            demo=demo,
            providers=names,
            http_timeout=timeout,
            editor_permission=str(
                settings.get(PREFIX + "editor_permission") or "cms_social_login.edit"
            ),
            state_ttl=state_ttl,
            site_url=site_url,
            max_form_bytes=max_form_bytes,
            session_timeout=session_timeout,
            store_tokens=asbool(settings.get(PREFIX + "store_tokens", False)),
            raw=dict(settings),
        )
