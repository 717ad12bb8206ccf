"""production.ini: the database URL and the secret key come from the environment."""

from __future__ import annotations

from pathlib import Path

import pytest
from pyramid.exceptions import ConfigurationError
from pyramid.paster import get_app
from sqlalchemy import select

from cms_demo.bootstrap import create_editor_command
from cms_demo.models import User
from cms_social_login.models import get_social_login_engine

from ..helpers import SECRET_KEY

PRODUCTION_INI = str(Path(__file__).resolve().parents[2] / "production.ini")


@pytest.fixture
def environment(monkeypatch, database_url):
    for name in ("CMS_SOCIAL_LOGIN_SQLALCHEMY_URL", "CMS_SOCIAL_LOGIN_SECRET_KEY",
                 "CMS_SOCIAL_LOGIN_SITE_URL"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("CMS_SOCIAL_LOGIN_SQLALCHEMY_URL", database_url)
    monkeypatch.setenv("CMS_SOCIAL_LOGIN_SECRET_KEY", SECRET_KEY)
    return monkeypatch


def dispose(app) -> None:
    get_social_login_engine(app.registry).dispose()


def test_the_site_uses_the_database_and_key_from_the_environment(environment, database_url):
    environment.setenv("CMS_SOCIAL_LOGIN_SITE_URL", "https://www.example.org")
    app = get_app(PRODUCTION_INI, options={"http_port": "6543"})
    try:
        factory = app.registry["cms_social_login.dbsession_factory"]
        engine = get_social_login_engine(app.registry)
        assert engine.url.render_as_string(hide_password=False) == database_url
        settings = app.registry.social_login_settings
        assert settings.secret_key == SECRET_KEY and not settings.demo
        assert settings.site_url == "https://www.example.org"
        with factory() as db:  # migrated at start, and no demo account in production
            assert db.scalars(select(User)).all() == []
    finally:
        dispose(app)


def test_no_secret_key_no_start(environment):
    environment.delenv("CMS_SOCIAL_LOGIN_SECRET_KEY")
    with pytest.raises(ConfigurationError, match="CMS_SOCIAL_LOGIN_SECRET_KEY"):
        get_app(PRODUCTION_INI, options={"http_port": "6543"})


def test_a_short_secret_key_no_start(environment):
    environment.setenv("CMS_SOCIAL_LOGIN_SECRET_KEY", "too-short")
    with pytest.raises(ConfigurationError, match="secret_key"):
        get_app(PRODUCTION_INI, options={"http_port": "6543"})


def test_no_database_url_no_start(environment):
    environment.delenv("CMS_SOCIAL_LOGIN_SQLALCHEMY_URL")
    with pytest.raises(ConfigurationError, match="CMS_SOCIAL_LOGIN_SQLALCHEMY_URL"):
        get_app(PRODUCTION_INI, options={"http_port": "6543"})


def test_an_editor_account_for_production(environment, capsys):
    app = get_app(PRODUCTION_INI, options={"http_port": "6543"})
    try:
        environment.setenv("CMS_DEMO_EDITOR_PASSWORD", "correct horse battery")
        assert create_editor_command([PRODUCTION_INI, "carol", "--display-name",
                                      "Carol"]) == 0
        assert "editor carol created" in capsys.readouterr().out
        with app.registry["cms_social_login.dbsession_factory"]() as db:
            carol = db.scalar(select(User).where(User.username == "carol"))
            assert carol.is_editor and carol.check_password("correct horse battery")
    finally:
        dispose(app)
