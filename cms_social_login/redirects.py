"""Where a visitor may be sent back to after login (same-site paths only), and the
site's absolute URLs for redirects (under ``cms_social_login.site_url`` when set)."""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import quote, unquote, urlsplit

from .sites import site_base_url

MAX_CAME_FROM = 2048

#: Characters a ``Location`` header may not carry raw: everything outside printable
#: ASCII. WSGI headers are Latin-1 strings (PEP 3333), and browsers read the bytes of
#: a raw non-ASCII Location differently; percent-encoded UTF-8 is what they send.
_NOT_PRINTABLE_ASCII = re.compile(r"[^\x21-\x7e]+")


def _percent_encode(value: str) -> str:
    return _NOT_PRINTABLE_ASCII.sub(lambda match: quote(match.group(), safe=""), value)


def safe_came_from(value: object, default: str = "/") -> str:
    """``value`` when it is a path on this site, else ``default``.

    Refuses absolute and scheme-relative URLs (``//host``), backslashes (browsers read
    ``/\\host`` as ``//host``), control characters (C0, DEL, C1), lone surrogates and
    schemes such as ``javascript:``, also when percent-encoded (checked after decoding
    twice). Characters outside printable ASCII (``/café``) come back percent-encoded as
    UTF-8 (``/caf%C3%A9``), so the result always fits a ``Location`` header; a result
    longer than :data:`MAX_CAME_FROM` is refused.
    """
    if not isinstance(value, str) or not value or len(value) > MAX_CAME_FROM:
        return default
    candidates = [value, unquote(value), unquote(unquote(value))]
    for candidate in candidates:
        if not candidate.startswith("/") or candidate.startswith("//"):
            return default
        if "\\" in candidate or any(ord(ch) < 32 or 127 <= ord(ch) < 160
                                    or 0xD800 <= ord(ch) < 0xE000  # lone surrogates
                                    for ch in candidate):
            return default
        parts = urlsplit(candidate)
        if parts.scheme or parts.netloc:
            return default
    encoded = _percent_encode(value)
    return encoded if len(encoded) <= MAX_CAME_FROM else default


def _without_mount_path(request: Any, base: str) -> str:
    """``base`` without the application's mount path (``SCRIPT_NAME``) when it ends with
    it: the paths joined to it (route paths, ``came_from``) start with that path already.
    So a base URL may name the mount path (``https://example.org/shop``) or not."""
    mount_path = request.script_name.rstrip("/")
    if mount_path and base.endswith(mount_path):
        return base[: -len(mount_path)]
    return base


def site_route_url(request: Any, route_name: str, *elements: Any, **kw: Any) -> str:
    """The site's URL of this route: under the site's base URL when it has one (the site
    resolver's, or ``cms_social_login.site_url`` for the default site: never from the Host
    header then), else ``request.route_url``'s."""
    base = site_base_url(request)
    if base:
        return (_without_mount_path(request, base)
                + request.route_path(route_name, *elements, **kw))
    return request.route_url(route_name, *elements, **kw)


def site_location(request: Any, path: str) -> str:
    """``path`` (on this site, e.g. from :func:`safe_came_from`) for a ``Location``
    header: under the site's base URL when it has one (WebOb would otherwise make it
    absolute with the Host header)."""
    base = site_base_url(request)
    return _without_mount_path(request, base) + path if base else path
