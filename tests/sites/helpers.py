"""What the many-sites tests share besides fixtures: the demo's three sites by host name,
a Bitbucket consumer per extra site, and the steps on them.

Test modules import these from here (``from .helpers import ...``); ``conftest.py`` holds
only fixtures.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from cms_social_login.testing import steps

__all__ = [
    "CONSUMERS",
    "HOST_A",
    "HOST_B",
    "HOST_DEFAULT",
    "callback_url",
    "connect_bitbucket_as_editor_a",
    "path_on",
    "publish_bitbucket",
]

#: The demo's extra sites (cms_demo.sites) and the default one.
HOST_A, HOST_B, HOST_DEFAULT = "site-a.localhost", "site-b.localhost", "localhost"
CONSUMERS = {
    HOST_A: ("siteAkey0123456789ab", "siteA-secret-0123456789abcdefghij"),
    HOST_B: ("siteBkey0123456789ab", "siteB-secret-0123456789abcdefghij"),
}


def callback_url(host: str) -> str:
    """The Bitbucket callback URL of the site at ``host`` (what its consumer registers)."""
    return f"http://{host}/login/bitbucket/callback"


def publish_bitbucket(browser: Any, host: str, action: str = "save") -> Any:
    """Fill the Bitbucket tab with the consumer of ``host`` and press ``action``."""
    key, secret = CONSUMERS[host]
    return steps.fill_tab(browser, "bitbucket", {"client_id": key, "client_secret": secret},
                          action)


def path_on(location: str, host: str) -> str:
    """The path and query of a redirect back to the site at ``host`` (asserting it is)."""
    parts = urlsplit(location)
    assert parts.netloc == host, location
    return parts.path + ("?" + parts.query if parts.query else "")


def connect_bitbucket_as_editor_a(browser: Any, bitbucket: Any) -> Any:
    """editor-a (a platform account) signs in on site-a with ``browser`` and connects
    Bitbucket there (the ``bitbucket`` emulator approves); returns ``browser``."""
    steps.sign_in(browser, "editor-a", "editor-a")
    location = bitbucket.approve(steps.start_login(browser, "bitbucket"))
    browser.get(path_on(location, HOST_A)).follow()
    return browser
