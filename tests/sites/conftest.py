"""Fixtures of the many-sites tests: the demo's three sites by host name, their editors
and a Bitbucket consumer per site (two clients of the one emulator). Constants and steps
are in :mod:`tests.sites.helpers`."""

from __future__ import annotations

import pytest
import webtest

from cms_social_login.testing import steps

from .helpers import CONSUMERS, HOST_A, HOST_B, callback_url, publish_bitbucket

#: The demo as development.ini runs it: with the editors of site-a and site-b.
SITE_EDITORS = {"cms_demo.site_editors": "true"}


@pytest.fixture
def first_start() -> dict[str, str]:
    """Each test's database starts with the editors of site-a and site-b (their
    passwords hashed with the kit's few template rounds)."""
    return SITE_EDITORS


@pytest.fixture
def app_settings(app_settings):
    """The demo as development.ini runs it: with the editors of site-a and site-b."""
    return {**app_settings, **SITE_EDITORS}


@pytest.fixture
def site_consumers(bitbucket):
    """Each extra site's own Bitbucket consumer, registered with its own callback URL."""
    for host, (key, secret) in CONSUMERS.items():
        bitbucket.add_client(key, secret, callback_url=callback_url(host))
    return CONSUMERS


@pytest.fixture
def browser_at(app):
    """A new browser on the site at a host: ``browser_at("site-a.localhost")``."""
    return lambda host: webtest.TestApp(app, extra_environ={"HTTP_HOST": host})


@pytest.fixture
def editor_a(browser_at):
    """``editor-a`` signed in on site-a."""
    browser = browser_at(HOST_A)
    steps.sign_in(browser, "editor-a", "editor-a")
    return browser


@pytest.fixture
def editor_b(browser_at):
    """``editor-b`` signed in on site-b."""
    browser = browser_at(HOST_B)
    steps.sign_in(browser, "editor-b", "editor-b")
    return browser


@pytest.fixture
def published_sites(site_consumers, editor_a, editor_b):
    """Both extra sites have saved their own Bitbucket consumer."""
    publish_bitbucket(editor_a, HOST_A).follow()
    publish_bitbucket(editor_b, HOST_B).follow()
    return editor_a, editor_b
