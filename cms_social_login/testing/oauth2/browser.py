"""Playing the user's browser at the provider: open the consent page, grant or deny."""

from __future__ import annotations

from html.parser import HTMLParser
from typing import Any
from urllib.parse import quote, urljoin

from .state import EmulatorState


class _FormParser(HTMLParser):
    """Collects the first form's action, method and named inputs, as a browser would."""

    def __init__(self) -> None:
        super().__init__()
        self.action: str | None = None
        self.method = "get"
        self.fields: list[tuple[str, str]] = []
        self._in_form = False
        self._done = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if self._done:
            return
        a = {k: (v or "") for k, v in attrs}
        if tag == "form" and not self._in_form:
            self._in_form = True
            self.action = a.get("action", "")
            self.method = a.get("method", "get").lower()
        elif tag == "input" and self._in_form and a.get("name"):
            if a.get("type", "text").lower() in ("submit", "button", "image", "reset"):
                return
            if a.get("type", "").lower() in ("checkbox", "radio") and "checked" not in a:
                return
            self.fields.append((a["name"], a.get("value", "")))

    def handle_endtag(self, tag: str) -> None:
        if tag == "form" and self._in_form:
            self._in_form = False
            self._done = True


class BrowserMixin(EmulatorState):
    """Drives the consent page over HTTP like a browser (the emulator must be started)."""

    def approve(self, authorize_url: str, user: Any | None = None) -> str:
        """Act as the user's browser: open the consent page, grant, return the redirect.

        ``user`` (object or id) plays the logged-in user for this flow only;
        by default it is :attr:`current_user`.  Returns the ``Location`` sent
        back to the site (``...?code=...&state=...``, or an error redirect).
        """
        return self._consent(authorize_url, "grant", user)

    def deny(self, authorize_url: str, user: Any | None = None) -> str:
        """Like :meth:`approve` but presses "Cancel"; returns the error redirect."""
        return self._consent(authorize_url, "deny", user)

    def _consent(self, authorize_url: str, decision: str, user: Any | None) -> str:
        import requests  # a test dependency; imported lazily

        headers = {}
        if user is not None:
            user_id = self.user_id(self.get_user(user))
            headers["Cookie"] = f"{self.user_cookie}={quote(user_id, safe='')}"
        page = requests.get(authorize_url, headers=headers, allow_redirects=False, timeout=10)
        if page.status_code in (301, 302, 303, 307, 308):
            return page.headers["Location"]
        if page.status_code != 200:
            raise AssertionError(f"consent page failed: HTTP {page.status_code}: {page.text[:500]}")
        parser = _FormParser()
        parser.feed(page.text)
        if parser.action is None:
            raise AssertionError("no form on the consent page")
        fields = [*parser.fields, ("decision", decision)]
        answer = requests.post(
            urljoin(page.url, parser.action),
            data=fields,
            headers=headers,
            allow_redirects=False,
            timeout=10,
        )
        if answer.status_code not in (301, 302, 303, 307, 308):
            raise AssertionError(
                f"consent answer failed: HTTP {answer.status_code}: {answer.text[:500]}"
            )
        return answer.headers["Location"]
