"""A request whose path, query string or form is not UTF-8 text is a 400, not a 500.

WebOb decodes these lazily and raises ``UnicodeDecodeError`` wherever they are first read
(Pyramid's routing raises ``URLDecodeError``, a subclass); a form declared in another
charset (``Content-Type: ...; charset=latin-1``, or a made-up one) makes WebOb raise
``DeprecationWarning`` when the form is read. So the refusal is an exception view for
both: it answers only where a 500 would otherwise be, and a host's own exception view for
the same error wins over this one.
"""

from __future__ import annotations

from typing import Any

from pyramid.config import Configurator
from pyramid.response import Response

from ..i18n import _, negotiate_locale, translate
from ..query import decoded_query


def _undecodable(request: Any) -> bool:
    """True when the request itself holds bytes that are not UTF-8."""
    if decoded_query(request) is None:
        return True
    try:
        request.path_info  # noqa: B018 - decoding is the check
        request.POST.items()
    except (UnicodeDecodeError, DeprecationWarning):
        return True
    return False


def undecodable_request(exc: UnicodeDecodeError | DeprecationWarning, request: Any
                        ) -> Response:
    """400 with a plain message; any other ``UnicodeDecodeError`` is a bug: raised on."""
    if not _undecodable(request):
        raise exc
    # The add-on's negotiator: a host's (Pyramid's default reads request.params) would
    # fail on the very query this refuses.
    request.locale_name = negotiate_locale(request)
    request.__dict__.pop("localizer", None)
    message = translate(request, _("This address or form contains characters we cannot "
                                   "read. Please check the link and try again."))
    response = Response(message, status=400, content_type="text/plain", charset="utf-8")
    response.cache_control = "no-store"
    return response


def includeme(config: Configurator) -> None:
    """Register the exception views."""
    config.add_exception_view(undecodable_request, context=UnicodeDecodeError)
    config.add_exception_view(undecodable_request, context=DeprecationWarning)
