"""Many sites, one deployment: which site a request belongs to.

A site builder serves many websites from one deployment; each has its own *Login
setting* (draft, published, history, audit), its own pending logins, linked identities
and stored tokens. The host says which site a request is for with a **site resolver**::

    config.set_social_login_site_resolver(resolve_site)   # or its dotted name

``resolve_site(request)`` returns the site's key (a short string, at most 64
characters of letters, digits, ``.``, ``_``, ``-`` and ``:``), or a :class:`Site` when
the site has its own public base URL (its callback URLs are built from it instead of the
request's Host header), or ``None`` when the request belongs to no site (a 404). The
default resolver returns ``"default"``: a single-site host changes nothing, and rows made
before sites existed belong to ``"default"``.

The add-on reads the answer once per request, as ``request.social_login_site`` (a
:class:`Site`); every query of a per-site table filters by its ``key``, every insert sets
it. The editor permission is checked by the host's security policy, which reads the
same ``request.social_login_site`` to grant editors their own sites only.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from pyramid.config import Configurator
from pyramid.exceptions import ConfigurationError
from pyramid.httpexceptions import HTTPNotFound
from zope.interface import Interface

from .lru import LRUCache
from .models.meta import DEFAULT_SITE

log = logging.getLogger(__name__)

__all__ = ["DEFAULT_SITE", "Site", "SiteCache", "default_site_resolver",
           "resolver_of", "set_social_login_site_resolver", "site_base_url",
           "site_key", "use_site",
           "social_login_site"]

#: Names the resolver in the ini (a dotted name), as the directive would.
RESOLVER_SETTING = "cms_social_login.site_resolver"
_KEY = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:\-]{0,63}")
_BASE_URL = re.compile(r"https?://[^/?#\s]+(/[^?#\s]*)?")


class ISiteResolver(Interface):
    """Maps a request to its site: ``resolver(request) -> str | Site | None``."""


@dataclass(frozen=True, slots=True)
class Site:
    """A site: its key, its public base URL (``https://shop.example.org``) when the
    callback URLs must not follow the request's Host header, and its name at the top of
    the add-on's public pages when it has its own (else ``cms_social_login.site_name``,
    else the host name)."""

    key: str
    base_url: str | None = None
    name: str | None = None

    def __post_init__(self) -> None:
        if self.name is not None:
            object.__setattr__(self, "name", " ".join(str(self.name).split()) or None)
        if not isinstance(self.key, str) or not _KEY.fullmatch(self.key):
            raise ValueError(f"a site key is 1 to 64 letters, digits, '.', '_', '-' or ':', "
                             f"got {self.key!r}")
        if self.base_url is not None:
            base_url = str(self.base_url).strip().rstrip("/")
            if not _BASE_URL.fullmatch(base_url):
                raise ValueError(f"a site's base URL is an absolute http(s) URL, got "
                                 f"{self.base_url!r}")
            object.__setattr__(self, "base_url", base_url)


def default_site_resolver(request: Any) -> str:
    """Every request belongs to the one site, ``"default"``."""
    return DEFAULT_SITE


def set_social_login_site_resolver(config: Configurator, resolver: object) -> None:
    """Use ``resolver`` (a callable taking the request, or its dotted name) to tell which
    site a request is for; see the module's documentation for its answers."""
    resolver = config.maybe_dotted(resolver)
    if not callable(resolver):
        raise ConfigurationError(f"set_social_login_site_resolver: {resolver!r} is not a "
                                 "callable taking the request")

    def register() -> None:
        config.registry.registerUtility(resolver, ISiteResolver)

    intr = config.introspectable("social login site resolver", None, repr(resolver),
                                 "social login site resolver")
    config.action("cms_social_login.site_resolver", register, introspectables=(intr,))


def social_login_site(request: Any) -> Site:
    """``request.social_login_site``: the request's :class:`Site` (a 404 when the
    resolver answers ``None``, or a key that is no site key: a resolver that reads the key
    from the Host header must not turn a made-up host into a server error)."""
    answer = resolver_of(request.registry)(request)
    if answer is None:
        raise HTTPNotFound()
    if isinstance(answer, Site):
        return answer
    try:
        return Site(answer)
    except ValueError as exc:
        log.warning("the site resolver's answer is no site key, answered as no site (404): "
                    "%s", exc)
        raise HTTPNotFound() from None


def site_key(request: Any) -> str:
    """The key of the request's site (what per-site rows hold in ``site``)."""
    return request.social_login_site.key


#: The published settings of the sites a process serves, one entry per site key, at most
#: ``cms_social_login.site_cache_size`` of them (see services/published.py).
SiteCache = LRUCache


def site_base_url(request: Any) -> str | None:
    """The public base URL of the request's site: the resolver's answer, else (for the
    default site) ``cms_social_login.site_url``; None to follow the request's host."""
    site = request.social_login_site
    if site.base_url:
        return site.base_url
    if site.key == DEFAULT_SITE:
        return request.registry.social_login_settings.site_url
    return None


def use_site(request: Any, key: str) -> Site:
    """Make ``key`` the request's site whatever the resolver would say (a command's
    ``--site``); ValueError for a key that is no site key."""
    site = Site(key)
    request.__dict__["social_login_site"] = site  # what the reified attribute keeps
    return site


def includeme(config: Configurator) -> None:
    """Add ``request.social_login_site`` and the ``set_social_login_site_resolver``
    directive; read ``cms_social_login.site_resolver`` when the ini names one."""
    config.add_directive("set_social_login_site_resolver", set_social_login_site_resolver)
    resolver = config.get_settings().get(RESOLVER_SETTING)
    if resolver:
        try:
            config.set_social_login_site_resolver(str(resolver).strip())
        except (ImportError, ValueError, AttributeError, ConfigurationError) as exc:
            raise ConfigurationError(f"{RESOLVER_SETTING} = {resolver!r} names no resolver: "
                                     f"{exc}") from exc
    config.add_request_method(social_login_site, "social_login_site", reify=True)


def resolver_of(registry: Any) -> Callable[[Any], object]:
    """The resolver in use (the host's, else :func:`default_site_resolver`)."""
    return registry.queryUtility(ISiteResolver, default=default_site_resolver)
