"""Settings come from the ini and from CMS_SOCIAL_LOGIN_* variables; the variable wins."""

from __future__ import annotations

import pytest
from pyramid.exceptions import ConfigurationError

from cms_social_login.settings import SocialLoginSettings, apply_environment, env_name


@pytest.mark.parametrize("setting, variable", [
    ("cms_social_login.secret_key", "CMS_SOCIAL_LOGIN_SECRET_KEY"),
    ("cms_social_login.bitbucket.api_url", "CMS_SOCIAL_LOGIN_BITBUCKET_API_URL"),
    ("cms_social_login.sqlalchemy.url", "CMS_SOCIAL_LOGIN_SQLALCHEMY_URL"),
])
def test_variable_names(setting, variable):
    assert env_name(setting) == variable


def test_variables_win_over_the_ini():
    settings = {"cms_social_login.secret_key": "from-ini",
                "cms_social_login.bitbucket.api_url": "https://ini.example/2.0"}
    apply_environment(settings, {"CMS_SOCIAL_LOGIN_SECRET_KEY": "from-env",
                                 "CMS_SOCIAL_LOGIN_BITBUCKET_API_URL": "http://127.0.0.1:9/2.0",
                                 "UNRELATED": "x"})
    assert settings == {"cms_social_login.secret_key": "from-env",
                        "cms_social_login.bitbucket.api_url": "http://127.0.0.1:9/2.0"}


def test_variables_for_settings_the_ini_does_not_list():
    settings = {"cms_social_login.oidc.providers": "google staff-sso"}
    apply_environment(settings, {
        "CMS_SOCIAL_LOGIN_SECRET_KEY": "k",
        "CMS_SOCIAL_LOGIN_SESSION_TIMEOUT": "60",
        "CMS_SOCIAL_LOGIN_SQLALCHEMY_URL": "sqlite://",
        "CMS_SOCIAL_LOGIN_BITBUCKET_TOKEN_URL": "http://127.0.0.1:9/token",
        "CMS_SOCIAL_LOGIN_GOOGLE_TITLE": "Google",
        "CMS_SOCIAL_LOGIN_STAFF_SSO_TITLE": "Staff",
    })
    assert settings["cms_social_login.secret_key"] == "k"
    assert settings["cms_social_login.session_timeout"] == "60"
    assert settings["cms_social_login.sqlalchemy.url"] == "sqlite://"
    assert settings["cms_social_login.bitbucket.token_url"] == "http://127.0.0.1:9/token"
    assert settings["cms_social_login.google.title"] == "Google"
    assert settings["cms_social_login.staff-sso.title"] == "Staff"


def test_the_add_ons_database_variable_leaves_the_hosts_setting_alone():
    """The host's engine and its Alembic read ``sqlalchemy.url``: the add-on never moves it."""
    settings = {"sqlalchemy.url": "sqlite:///host.sqlite"}
    apply_environment(settings, {"CMS_SOCIAL_LOGIN_SQLALCHEMY_URL": "sqlite:///addon.sqlite"})
    assert settings == {"sqlalchemy.url": "sqlite:///host.sqlite",
                        "cms_social_login.sqlalchemy.url": "sqlite:///addon.sqlite"}


@pytest.mark.parametrize("key, value, complaint", [
    ("http_timeout", "soon", "http_timeout"),
    ("http_timeout", "0", "positive"),
    ("site_url", "cms.example.org", "absolute http"),
    ("state_ttl", "ten", "state_ttl"),
    ("max_pending_logins", "0", "at least 1"),
    ("max_concurrent_calls_per_provider", "many", "max_concurrent_calls_per_provider"),
])
def test_bad_settings_are_configuration_errors(key, value, complaint):
    with pytest.raises(ConfigurationError, match=complaint):
        SocialLoginSettings.from_settings({"cms_social_login.secret_key": "k" * 40,
                                           f"cms_social_login.{key}": value})
