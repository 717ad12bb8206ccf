"""Where a visitor may be sent back to after login: same-site paths only."""

from __future__ import annotations

from urllib.parse import unquote, urlsplit

MAX_CAME_FROM = 2048


def safe_came_from(value: object, default: str = "/") -> str:
    """``value`` when it is a path on this site, else ``default``.

    Refuses absolute and scheme-relative URLs (``//host``), backslashes (browsers read
    ``/\\host`` as ``//host``), control characters and schemes such as ``javascript:``,
    also when percent-encoded (checked after decoding twice).
    """
    if not isinstance(value, str) or not value or len(value) > MAX_CAME_FROM:
        return default
    candidates = [value, unquote(value), unquote(unquote(value))]
    for candidate in candidates:
        if not candidate.startswith("/") or candidate.startswith("//"):
            return default
        if "\\" in candidate or any(ord(ch) < 32 or ord(ch) == 127 for ch in candidate):
            return default
        parts = urlsplit(candidate)
        if parts.scheme or parts.netloc:
            return default
    return value
