"""How the emulator answers: JSON, HTML pages, OAuth errors, API errors, redirects.

Facts followed (and their sources):

- Token endpoint errors are JSON ``{"error", "error_description"}`` with
  ``Cache-Control: no-store`` and ``Pragma: no-cache`` (RFC 6749 §5.2, §5.1).
- A 401 from a protected resource carries ``WWW-Authenticate: Bearer ...
  error="invalid_token"`` (RFC 6750 §3).
- Subclasses replace :meth:`ResponsesMixin.error_body` with their provider's
  error envelope (Bitbucket: BITBUCKET.md; GitHub, GitLab: their emulators).
"""

from __future__ import annotations

import html
import json
from collections.abc import Iterable, Mapping
from typing import Any
from urllib.parse import urlencode, urlsplit, urlunsplit

import webob

from .state import EmulatorState


def add_query(url: str, params: Iterable[tuple[str, str | None]]) -> str:
    """Append ``params`` (skipping ``None`` values) to ``url``'s query string."""
    parts = urlsplit(url)
    extra = urlencode([(k, v) for k, v in params if v is not None])
    query = f"{parts.query}&{extra}" if parts.query and extra else (parts.query or extra)
    return urlunsplit((parts.scheme, parts.netloc, parts.path, query, ""))


class ResponsesMixin(EmulatorState):
    """Builds every response the emulator sends."""

    def json_response(
        self, data: Any, status: int = 200, headers: Mapping[str, str] | None = None
    ) -> webob.Response:
        """A JSON response."""
        response = webob.Response(
            status=status,
            body=json.dumps(data).encode("utf-8"),
            content_type="application/json",
            charset=None,
        )
        for key, value in (headers or {}).items():
            response.headers[key] = value
        return response

    def html_response(self, title: str, body_html: str, status: int = 200) -> webob.Response:
        """A complete HTML page; ``body_html`` must already be escaped."""
        page = (
            "<!DOCTYPE html>\n"
            '<html lang="en">\n<head>\n<meta charset="utf-8">\n'
            '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
            f"<title>{html.escape(title)} | {html.escape(self.provider_name)}</title>\n"
            "</head>\n<body>\n<main>\n"
            f"{body_html}\n"
            "</main>\n</body>\n</html>\n"
        )
        return webob.Response(status=status, text=page, content_type="text/html", charset="utf-8")

    def error_page(self, status: int, title: str, message: str) -> webob.Response:
        """An HTML error page (used by the authorize endpoint)."""
        body = f"<h1>{html.escape(title)}</h1>\n<p>{html.escape(message)}</p>"
        return self.html_response(title, body, status=status)

    def oauth_error(
        self, status: int, error: str, description: str, headers: Mapping[str, str] | None = None
    ) -> webob.Response:
        """An RFC 6749 JSON error from the token endpoint."""
        return self.json_response(
            {"error_description": description, "error": error},
            status=status,
            headers={"Cache-Control": "no-store", "Pragma": "no-cache", **(headers or {})},
        )

    def error_body(self, status: int, message: str, **detail: Any) -> Any:
        """The JSON body of an API error (subclasses use their provider's envelope)."""
        body: dict[str, Any] = {"error": "error", "error_description": message}
        if status == 401:
            body["error"] = "invalid_token"
        elif status == 403:
            body["error"] = "insufficient_scope"
        if detail:
            body["detail"] = detail
        return body

    def api_error(self, status: int, message: str, **detail: Any) -> webob.Response:
        """An API error response in the provider's envelope."""
        headers = {}
        if status == 401:
            realm = self.provider_name.replace('"', "")
            headers["WWW-Authenticate"] = f'Bearer realm="{realm}", error="invalid_token"'
        return self.json_response(self.error_body(status, message, **detail), status, headers)

    def _redirect(self, location: str) -> webob.Response:
        response = webob.Response(status=302)
        response.headers["Location"] = location
        response.headers["Cache-Control"] = "no-store"
        return response

    def _method_not_allowed(self, allow: str) -> webob.Response:
        response = self.api_error(405, "Method not allowed.")
        response.headers["Allow"] = allow
        return response
