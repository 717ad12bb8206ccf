"""Every setting of the add-on is parsed and checked when the site starts: a bad value
stops ``make_wsgi_app()`` with a message that names the setting and the value, instead of
a 500 at the first request that happens to read it."""

from __future__ import annotations

import dataclasses
import re

import pytest
from pyramid.config import Configurator
from pyramid.exceptions import ConfigurationError

from cms_social_login.settings import SocialLoginSettings

from .helpers import NobodyEdits

SECRET_KEY = "a-test-secret-key-that-is-long-enough-0123456789"

#: Each setting with a value a typo could give it.
BAD_VALUES = [
    ("demo", "ture"),
    ("http_timeout", "soon"),
    ("http_timeout", "0"),
    ("state_ttl", "ten"),
    ("state_ttl", "0"),
    ("max_pending_logins", "0"),
    ("max_concurrent_calls_per_provider", "many"),
    ("site_url", "cms.example.org"),
    ("session_timeout", "-5"),
    ("session_lifetime", "1 week"),
    ("max_form_bytes", "64k"),
    ("store_tokens", "yes please"),
    ("audit_retention_days", "forever"),
    ("audit_retention_days", "40000"),
    ("allow_private_provider_urls", "maybe"),
    ("allowed_endpoint_origins", "ftp://files.example.org"),
    ("published_max_age", "half a second"),
    ("published_max_age", "-1"),
    ("published_max_age", "nan"),
    ("site_cache_size", "0"),
    ("site_cache_size", "many"),
    ("locales", "en,de"),
    ("migration_lock_dir", "/no/such/folder"),
    ("site_resolver", "no_such_module.resolve_site"),
    ("dbsession", "no_such_module.session"),
    ("sqlalchemy.url", "not a database url"),
]

#: Settings any value of which is good (a free text, a permission name, a list of names).
FREE_TEXT = {"editor_permission", "site_name", "providers"}


def start(**settings: str):
    """Start a bare site including the add-on with these ``cms_social_login.*`` settings."""
    with Configurator(settings={
            "cms_social_login.secret_key": SECRET_KEY,
            "cms_social_login.sqlalchemy.url": "sqlite://",
            **{f"cms_social_login.{key}": value for key, value in settings.items()}}) as config:
        config.include("cms_social_login")
        config.set_security_policy(NobodyEdits())
    return config.make_wsgi_app()


def test_a_site_with_good_settings_starts():
    app = start(published_max_age="2", site_cache_size="10", locales="de en",
                store_tokens="on", demo="false", migration_lock_dir="/tmp")
    settings = app.registry.social_login_settings
    assert (settings.published_max_age, settings.site_cache_size, settings.locales) == \
        (2.0, 10, ("de", "en"))
    assert settings.store_tokens is True and settings.demo is False


@pytest.mark.parametrize("name, value", BAD_VALUES)
def test_a_bad_value_stops_the_start_naming_the_setting_and_the_value(name, value):
    with pytest.raises(ConfigurationError) as stopped:
        start(**{name: value})
    message = str(stopped.value)
    assert f"cms_social_login.{name}" in message
    assert repr(value) in message


def test_a_bad_secret_key_names_the_setting_but_never_shows_the_key():
    with pytest.raises(ConfigurationError, match=re.escape("cms_social_login.secret_key")) \
            as stopped:
        start(secret_key="too-short-to-be-a-key")
    assert "too-short-to-be-a-key" not in str(stopped.value)


def test_a_database_password_is_not_shown_when_the_url_is_bad():
    with pytest.raises(ConfigurationError, match="cms_social_login.sqlalchemy.url") as stopped:
        start(**{"sqlalchemy.url": "postgres://alice:hunter2@db.example.org/site"})
    assert "hunter2" not in str(stopped.value) and "alice:***@" in str(stopped.value)


def test_every_setting_that_can_be_wrong_is_checked_here():
    """A new setting gets its line in BAD_VALUES (or is free text)."""
    fields = {f.name for f in dataclasses.fields(SocialLoginSettings)}
    checked = {name for name, _value in BAD_VALUES} | FREE_TEXT
    assert fields - {"raw", "secret_key", "secret_keys"} <= checked
