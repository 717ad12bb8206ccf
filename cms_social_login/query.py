"""The request's query string, decoded once per request.

WebOb keeps a decoded query (``request.GET``) but not a failure: a query that is not UTF-8
is decoded again, and raises again, at every read, and its unquoting takes time quadratic
in the number of ``%`` escapes (a tenth of a second for a 200 KB query). The add-on reads
the query before the view (the ``?_LOCALE_=`` choice) and after it (the 400 for such a
query), so it checks the query in linear time first and keeps the outcome in the request's
environ, beside the query it belongs to (as WebOb keeps ``request.GET``).
"""

from __future__ import annotations

from typing import Any
from urllib.parse import unquote_to_bytes

#: The environ key of the kept outcome: ``(query string, request.GET or None)``.
_KEPT = "cms_social_login.decoded_query"


def is_text(query: str) -> bool:
    """True when WebOb can decode the WSGI query string ``query`` as UTF-8 text.

    Linear, and false exactly where WebOb's decoding fails: the escapes WebOb reads beyond
    urllib's (such as ``%+1``) make ASCII bytes, which change no UTF-8 check."""
    try:
        unquote_to_bytes(query.encode("latin-1")).decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


def decoded_query(request: Any) -> Any | None:
    """``request.GET``, or None when the query string is not UTF-8 text."""
    environ = request.environ
    query = environ.get("QUERY_STRING", "")
    kept = environ.get(_KEPT)
    if kept is not None and kept[0] == query:
        return kept[1]
    decoded = None
    if is_text(query):
        try:
            decoded = request.GET
        except UnicodeDecodeError:  # is_text says where WebOb fails; never a 500 if not
            decoded = None
    environ[_KEPT] = (query, decoded)
    return decoded
