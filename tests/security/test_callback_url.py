"""The callback URL (redirect_uri) is built from configuration, never from request input."""

from __future__ import annotations

import pytest

from ..helpers import query_of


@pytest.fixture
def app_settings(app_settings):
    return {**app_settings, "cms_social_login.site_url": "https://cms.example.org"}


def test_redirect_uri_comes_from_the_site_url_not_the_host_header(published_bitbucket,
                                                                  visitor, bitbucket):
    page = visitor.get("/login", extra_environ={"HTTP_HOST": "evil.example"})
    href = next(a["href"] for a in page.html.select("a.provider-button"))
    response = visitor.get(href, extra_environ={"HTTP_HOST": "evil.example"})
    redirect_uri = query_of(response.location)["redirect_uri"]
    assert redirect_uri == "https://cms.example.org/login/bitbucket/callback"
    settings = published_bitbucket.get("/editor/system-pages/login/settings")
    assert "https://cms.example.org/login/bitbucket/callback" in settings.text
