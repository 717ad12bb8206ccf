"""What an editor and a visitor do on the site, as WebTest steps (for provider tests).

The site is any WSGI app that includes ``cms_social_login``; the kit's fixtures use the
demo host (``cms_demo``) with its ``editor`` / ``editor`` account.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any
from urllib.parse import parse_qs, urlsplit

__all__ = [
    "SITE",
    "callback_path",
    "callback_url",
    "error_message",
    "fill_tab",
    "log_out",
    "login_buttons",
    "make_browser",
    "query_of",
    "settings_form",
    "sign_in",
    "start_login",
]

#: The site's address in WebTest (``HTTP_HOST: localhost``).
SITE = "http://localhost"
SETTINGS_PATH = "/editor/system-pages/login/settings"


def make_browser(app: Any) -> Any:
    """A new browser (``webtest.TestApp``) on ``app`` at :data:`SITE`."""
    import webtest  # a test dependency

    return webtest.TestApp(app, extra_environ={"HTTP_HOST": "localhost"})


def sign_in(browser: Any, login: str = "editor", password: str = "editor") -> Any:
    """Sign ``browser`` in with the host's password form on ``/login``."""
    page = browser.get("/login")
    form = next(f for f in page.forms.values() if "password" in f.fields)
    form["login"] = login
    form["password"] = password
    response = form.submit()
    assert response.status_int in (302, 303), f"password login failed: {response.status}"
    return response.follow()


def log_out(browser: Any, everywhere: bool = False) -> Any:
    """Log ``browser`` out: the "Log out" button of ``/logout`` (a POST with the CSRF
    token; ``everywhere``: the connections page's "Log out everywhere"); return the login
    page it lands on."""
    if everywhere:
        page = browser.get("/account/connections")
        form = page.forms["logout-everywhere"]
    else:
        form = browser.get("/logout").forms[0]
    response = form.submit()
    assert response.status_int == 303, f"logout gave {response.status}"
    return response.follow()


def callback_url(provider_name: str) -> str:
    """The redirect URI to register at the provider for ``provider_name``."""
    return f"{SITE}/login/{provider_name}/callback"


def settings_form(browser: Any, tab: str) -> Any:
    """Open the *Login setting* dialog on ``tab``; return its form."""
    page = browser.get(f"{SETTINGS_PATH}?tab={tab}")
    return page.forms["login-settings-form"]


def fill_tab(browser: Any, provider_name: str, values: Mapping[str, str], action: str,
             *, enabled: bool = True, status: int | str | None = None) -> Any:
    """Fill the tab of ``provider_name`` with ``values`` and press ``action``
    (``ok``, ``apply``, ``preview`` or ``save``); return the response."""
    form = settings_form(browser, provider_name)
    form[f"{provider_name}.enabled"] = enabled
    for name, value in values.items():
        form[f"{provider_name}.{name}"] = value
    return form.submit("action", value=action, status=status)


def login_buttons(page: Any, provider_name: str | None = None) -> list[Any]:
    """The provider buttons (``a.provider-button``) of a login page, optionally only the
    ones that start ``provider_name``."""
    buttons = page.html.select("a.provider-button")
    if provider_name is None:
        return buttons
    return [a for a in buttons
            if urlsplit(a.get("href") or "").path == f"/login/{provider_name}"]


def start_login(browser: Any, provider_name: str, came_from: str | None = None) -> str:
    """Click the provider's button on ``/login``; return the provider's authorize URL."""
    page = browser.get("/login" + (f"?came_from={came_from}" if came_from else ""))
    buttons = login_buttons(page, provider_name)
    assert buttons, f"no {provider_name} button on the login page"
    response = browser.get(buttons[0]["href"])
    assert response.status_int == 302, f"starting the login gave {response.status}"
    return response.location


def callback_path(location: str) -> str:
    """The path and query of a redirect back to the site (asserting it is the site)."""
    parts = urlsplit(location)
    assert f"{parts.scheme}://{parts.netloc}" == SITE, location
    return parts.path + ("?" + parts.query if parts.query else "")


def query_of(url: str) -> dict[str, str]:
    """The query parameters of ``url`` (first value of each)."""
    return {key: values[0] for key, values in parse_qs(urlsplit(url).query).items()}


def error_message(page: Any) -> str | None:
    """The text of the page's error alert, if any."""
    alert = page.html.select_one(".alert-error")
    return alert.get_text(" ", strip=True) if alert is not None else None
