"""Typed settings of the add-on, read once at start from the ini and the environment.

Every setting under the ``cms_social_login.`` prefix may be overridden by an environment
variable ``CMS_SOCIAL_LOGIN_<NAME>``: the part after the prefix in upper case with dots
turned into underscores, e.g. ``CMS_SOCIAL_LOGIN_BITBUCKET_API_URL`` for
``cms_social_login.bitbucket.api_url`` and ``CMS_SOCIAL_LOGIN_SQLALCHEMY_URL`` for the
add-on's own ``cms_social_login.sqlalchemy.url``. The variable wins. The host's settings
(``sqlalchemy.url`` among them) are never written.
"""

from __future__ import annotations

import math
import os
import re
from collections.abc import Mapping, MutableMapping
from dataclasses import dataclass, field
from typing import Any

from pyramid.exceptions import ConfigurationError
from pyramid.httpexceptions import HTTPNotFound
from pyramid.settings import aslist, falsey, truthy

from .entry_points import installed_entry_points

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
    names = {entry_point.name for entry_point in installed_entry_points(PROVIDER_GROUP)}
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


# --------------------------------------------------------------------------- parsers
# One parser per kind of value; each error names the setting and the value it got.


def _raw(settings: Mapping[str, object], name: str) -> object | None:
    """The value of ``cms_social_login.<name>``, None when unset or blank."""
    value = settings.get(PREFIX + name)
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    return value


def _refuse(name: str, value: object, expected: str) -> ConfigurationError:
    return ConfigurationError(f"{PREFIX}{name} must be {expected}, got {value!r}")


def _whole(settings: Mapping[str, object], name: str, default: int, unit: str,
           minimum: int, maximum: int | None = None) -> int:
    """A whole number from ``minimum`` (to ``maximum``)."""
    raw = _raw(settings, name)
    if raw is None:
        return default
    text = str(raw).strip()
    number = int(text) if re.fullmatch(r"[+-]?[0-9]+", text) and not isinstance(raw, bool) \
        else None
    if number is None or number < minimum or (maximum is not None and number > maximum):
        bounds = f"at least {minimum}" + (f" and at most {maximum}" if maximum else "")
        raise _refuse(name, raw, f"a whole number of {unit}, {bounds}")
    return number


def _seconds(settings: Mapping[str, object], name: str, default: float,
             positive: bool) -> float:
    """A finite number of seconds, above 0 (``positive``) or from 0."""
    raw = _raw(settings, name)
    if raw is None:
        return default
    try:
        number = float(str(raw).strip()) if not isinstance(raw, bool) else math.nan
    except ValueError:
        number = math.nan
    if not math.isfinite(number) or number < 0 or (positive and number == 0):
        raise _refuse(name, raw, "a positive number of seconds" if positive
                      else "a number of seconds, 0 or more")
    return number


def _flag(settings: Mapping[str, object], name: str) -> bool:
    """true/false (also yes/no, on/off, 1/0); anything else is refused, not false."""
    raw = _raw(settings, name)
    if raw is None or isinstance(raw, bool):
        return bool(raw)
    text = str(raw).strip().lower()
    if text not in truthy and text not in falsey:
        raise _refuse(name, raw, "true or false")
    return text in truthy


def audit_retention_days(settings: Mapping[str, object]) -> int:
    """``cms_social_login.audit_retention_days`` (default 365; 0 keeps the audit log)."""
    return _whole(settings, "audit_retention_days", 365, "days (0 keeps forever)", 0, 36500)


def _secret_keys(settings: Mapping[str, object], demo: bool) -> tuple[str, ...]:
    """The keys of ``cms_social_login.secret_key`` (never shown in an error)."""
    keys = tuple(dict.fromkeys(str(settings.get(PREFIX + "secret_key") or "").split()))
    if not keys:
        raise ConfigurationError(
            f"{PREFIX}secret_key is required: set it in the ini file or in "
            f"{env_name(PREFIX + 'secret_key')} (a long random string)."
        )
    for key in keys:
        if not demo and (key == DEMO_SECRET_KEY or len(key) < MIN_SECRET_KEY_LENGTH):
            raise ConfigurationError(
                f"{PREFIX}secret_key is the demo key or shorter than "
                f"{MIN_SECRET_KEY_LENGTH} characters (each key of the list); set a long "
                f"random key (only {PREFIX}demo = true accepts it).")
    return keys


def _origins(settings: Mapping[str, object]) -> tuple[str, ...]:
    origins = tuple(origin.rstrip("/").lower() for origin in aslist(
        str(settings.get(PREFIX + "allowed_endpoint_origins") or "")))
    for origin in origins:
        if origin != "*" and not re.fullmatch(r"https?://[a-z0-9.\-]+(:\d{1,5})?|"
                                              r"https?://\[[0-9a-f:.]+\](:\d{1,5})?",
                                              origin):
            raise ConfigurationError(f"{PREFIX}allowed_endpoint_origins: {origin!r} is "
                                     "not an origin like https://host[:port] (or *)")
    return origins


def _site_url(settings: Mapping[str, object]) -> str | None:
    site_url = str(settings.get(PREFIX + "site_url") or "").strip().rstrip("/") or None
    if site_url and not re.fullmatch(r"https?://[^/?#\s]+(/[^?#\s]*)?", site_url):
        raise ConfigurationError(f"{PREFIX}site_url must be an absolute http(s) URL, "
                                 f"got {site_url!r}")
    return site_url


def _locales(settings: Mapping[str, object]) -> tuple[str, ...] | None:
    raw = _raw(settings, "locales")
    if raw is None:
        return None
    names = tuple(aslist(str(raw)))
    if not all(re.fullmatch(r"[A-Za-z]{2,3}(_[A-Za-z0-9]{2,8})*", name) for name in names):
        raise _refuse("locales", raw, "locale names separated by spaces, e.g. en de pt_BR")
    return names


def _folder(settings: Mapping[str, object], name: str) -> str | None:
    raw = _raw(settings, name)
    if raw is None:
        return None
    if not os.path.isdir(str(raw).strip()):
        raise _refuse(name, raw, "an existing folder")
    return str(raw).strip()


@dataclass(frozen=True)
class SocialLoginSettings:
    """The add-on's settings, converted and checked."""

    #: The first of ``cms_social_login.secret_key``'s keys: the one that writes.
    secret_key: str
    demo: bool = False
    providers: tuple[str, ...] | None = None
    http_timeout: float = 10.0
    editor_permission: str = "cms_social_login.edit"
    state_ttl: int = 600
    #: Pending (started, not finished) logins one browser may hold; a new start drops the
    #: oldest beyond this.
    max_pending_logins: int = 10
    #: Outbound calls to one provider that may be in flight at once in this process; a
    #: call beyond it is refused at once ("... is slow to answer right now").
    max_concurrent_calls_per_provider: int = 2
    #: The site's public base URL (``https://example.org``); callback URLs are built from
    #: it instead of the request's Host header when set.
    site_url: str | None = None
    #: Seconds of inactivity after which the session cookie stops working.
    session_timeout: int = 43200
    #: Seconds after sign-in when a signed-in session ends, however active (7 days).
    session_lifetime: int = 604800
    #: Every key of ``cms_social_login.secret_key`` (space separated), the writing key
    #: first: secrets, tokens and session cookies are read with any of them.
    secret_keys: tuple[str, ...] = ()
    #: Form bodies larger than this are refused with 400.
    max_form_bytes: int = 65536
    #: Store each login's access and refresh tokens (encrypted) for
    #: ``request.social_token(provider)``; off by default.
    store_tokens: bool = False
    #: Days the audit log keeps a row (0 keeps them forever); see services/audit.py.
    audit_retention_days: int = 365
    #: Provider URLs may name loopback, private and link-local addresses (and ``http://``
    #: on loopback): development and tests only.
    allow_private_provider_urls: bool = False
    #: Origins (``https://host[:port]``) an OpenID Connect discovery document may announce
    #: endpoints on besides the issuer's own; ``*`` allows any.
    allowed_endpoint_origins: tuple[str, ...] = ()
    #: The site's name in the header of the add-on's public pages (None: the request's
    #: host name).
    site_name: str | None = None
    #: Seconds a process trusts its copy of a site's published settings before it reads
    #: their version again (0: on every request); see services/published.py.
    published_max_age: float = 0.5
    #: How many sites' published settings a process keeps (the least recently used go).
    site_cache_size: int = 1000
    #: The languages offered on the add-on's pages (None: the shipped ones).
    locales: tuple[str, ...] | None = None
    #: Where the SQLite migration lock file goes (None: the temporary folder).
    migration_lock_dir: str | None = None
    raw: Mapping[str, object] = field(default_factory=dict, repr=False)

    def __post_init__(self) -> None:
        if not self.secret_keys:
            object.__setattr__(self, "secret_keys", (self.secret_key,))

    def provider_setting(self, provider: str, name: str, default: str) -> str:
        """The value of ``cms_social_login.<provider>.<name>``, or ``default``."""
        value = self.raw.get(f"{PREFIX}{provider}.{name}")
        return str(value).strip() if value not in (None, "") else default

    @classmethod
    def from_settings(cls, settings: Mapping[str, object]) -> SocialLoginSettings:
        """Convert and check every ``cms_social_login.*`` setting of the add-on (the
        providers' own are read by each provider as it is added, also at start); a bad
        value is a ConfigurationError naming the setting and the value (never a secret)."""
        demo = _flag(settings, "demo")
        keys = _secret_keys(settings, demo)
        providers = settings.get(PREFIX + "providers")
        return cls(
            secret_key=keys[0],
            demo=demo,
            providers=tuple(aslist(providers)) if providers not in (None, "") else None,
            http_timeout=_seconds(settings, "http_timeout", 10.0, positive=True),
            editor_permission=str(
                settings.get(PREFIX + "editor_permission") or "cms_social_login.edit"
            ),
            state_ttl=_whole(settings, "state_ttl", 600, "seconds", 1),
            max_pending_logins=_whole(settings, "max_pending_logins", 10, "logins", 1),
            max_concurrent_calls_per_provider=_whole(
                settings, "max_concurrent_calls_per_provider", 2, "calls", 1),
            site_url=_site_url(settings),
            max_form_bytes=_whole(settings, "max_form_bytes", 65536, "bytes", 1),
            session_timeout=_whole(settings, "session_timeout", 43200, "seconds", 1),
            session_lifetime=_whole(settings, "session_lifetime", 604800, "seconds", 1),
            secret_keys=keys,
            store_tokens=_flag(settings, "store_tokens"),
            audit_retention_days=audit_retention_days(settings),
            allow_private_provider_urls=_flag(settings, "allow_private_provider_urls"),
            allowed_endpoint_origins=_origins(settings),
            site_name=" ".join(str(settings.get(PREFIX + "site_name") or "").split()) or None,
            published_max_age=_seconds(settings, "published_max_age", 0.5, positive=False),
            site_cache_size=_whole(settings, "site_cache_size", 1000, "sites", 1),
            locales=_locales(settings),
            migration_lock_dir=_folder(settings, "migration_lock_dir"),
            raw=dict(settings),
        )


def site_name(request: Any) -> str:
    """The site's name for the add-on's pages: the name the site resolver gave the
    request's site (``Site(key, name=...)``), else ``cms_social_login.site_name``, else
    the host name the visitor typed (``example.org``)."""
    try:
        own = request.social_login_site.name
    except HTTPNotFound:  # a page for a request of no site (a 404)
        own = None
    return own or request.registry.social_login_settings.site_name or request.domain
