"""The demo's sites: one deployment serving three websites by host name.

``localhost`` and ``127.0.0.1`` (and any other host) are the default site, as before
sites existed; ``site-a.localhost`` and ``site-b.localhost`` are two more (browsers
resolve ``*.localhost`` to loopback; any client can send the Host header). Each site
has its own Login setting, history, audit log and visitors' accounts; its editors are
listed in ``demo_site_editors`` (the default site's editors are the accounts flagged
``is_editor``, as before).
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from pyramid.config import Configurator

from cms_social_login.sites import DEFAULT_SITE

#: Host name (without the port) -> site key.
SITES_BY_HOST = {"site-a.localhost": "site-a", "site-b.localhost": "site-b"}
#: The demo editor accounts of the extra sites: (site, username, password).
SITE_EDITORS = (("site-a", "editor-a", "editor-a"), ("site-b", "editor-b", "editor-b"))


def host_site(request: Any) -> str:
    """The site of the request's host name; the default site for every other host."""
    try:
        name = urlsplit("//" + (request.host or "")).hostname or ""
    except ValueError:  # a Host header that is no host name
        return DEFAULT_SITE
    return SITES_BY_HOST.get(name, DEFAULT_SITE)


def includeme(config: Configurator) -> None:
    """Resolve the site by host name."""
    config.set_social_login_site_resolver(host_site)
