"""The origin of a URL (RFC 6454): one helper for logs, issuers and same-site checks."""

from __future__ import annotations

from urllib.parse import urlsplit

#: The port a scheme means when a URL names none.
DEFAULT_PORTS = {"https": 443, "http": 80}


def url_origin(url: str) -> str:
    """``scheme://host[:port]`` of ``url`` in lower case, the port only when it is not
    the scheme's default (RFC 6454 6.2); never a path, a query or credentials.

    ``""`` when ``url`` has no host or cannot be parsed, so two unusable URLs never
    count as one origin with a real one.
    """
    try:
        parts = urlsplit(url.strip())
        host, port = (parts.hostname or "").lower(), parts.port
    except ValueError:
        return ""
    if not host:
        return ""
    scheme = parts.scheme.lower()
    if ":" in host:  # an IPv6 literal keeps its brackets
        host = f"[{host}]"
    shown = f":{port}" if port is not None and port != DEFAULT_PORTS.get(scheme) else ""
    return f"{scheme}://{host}{shown}"
