"""Each test's site starts on a copy of a database migrated once per session (the worker's
database, put back to the template before each test): what a test saves stays there until
the next test starts; the template and the next test never see it."""

from __future__ import annotations

from sqlalchemy import create_engine, select

from cms_demo.models import User
from cms_social_login.migrations import current_revision, head_revision
from cms_social_login.models import LoginSettings
from cms_social_login.testing.plugin import site_session_factory

from .helpers import submit_bitbucket


def stages(url: str) -> list[str]:
    """The stages of the login settings stored in the database at ``url``."""
    engine = create_engine(url)
    try:
        with engine.connect() as connection:
            return sorted(connection.scalars(select(LoginSettings.stage)))
    finally:
        engine.dispose()


def template_url(request, database_kind: str) -> str:
    """The URL of the template the site's database was copied from."""
    if database_kind == "sqlite":
        return f"sqlite:///{request.getfixturevalue('social_login_database_template')}"
    server = request.getfixturevalue("postgresql_server")
    return server.url(request.getfixturevalue("postgresql_template"))


def test_a_site_starts_migrated_with_the_demo_editor_and_nothing_saved(app, app_settings):
    engine = create_engine(app_settings["sqlalchemy.url"])
    try:
        assert current_revision(engine) == head_revision()
    finally:
        engine.dispose()
    with site_session_factory(app)() as db:
        assert db.scalars(select(User.username)).all() == ["editor"]
        assert db.scalars(select(LoginSettings)).all() == []


def test_what_a_test_saves_stays_in_its_own_copy(request, editor, app_settings, database_kind):
    submit_bitbucket(editor, "save").follow()

    assert stages(app_settings["sqlalchemy.url"]) == ["draft", "published"]
    assert stages(template_url(request, database_kind)) == []


def test_the_next_test_starts_on_a_copy_without_it(app, app_settings):
    # Runs after the test above (same module, file order): its Save is not here.
    assert stages(app_settings["sqlalchemy.url"]) == []
    with site_session_factory(app)() as db:
        assert db.scalars(select(LoginSettings)).all() == []


def test_the_kits_site_starts_on_its_own_copy_too(social_login_editor, social_login_settings,
                                                  social_login_database_template):
    submit_bitbucket(social_login_editor, "save", status=303)

    assert stages(social_login_settings["sqlalchemy.url"]) == ["draft", "published"]
    assert stages(f"sqlite:///{social_login_database_template}") == []
