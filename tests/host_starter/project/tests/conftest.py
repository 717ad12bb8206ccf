import os

import alembic.command
import alembic.config
import pytest
import transaction
import webtest
from myproject import main, models
from myproject.models.meta import Base
from pyramid.paster import get_appsettings


def pytest_addoption(parser):
    parser.addoption("--ini", action="store", metavar="INI_FILE")


@pytest.fixture(scope="session")
def ini_file(request):
    return os.path.abspath(request.config.option.ini or "testing.ini")


@pytest.fixture(scope="session")
def app_settings(ini_file):
    return get_appsettings(ini_file)


@pytest.fixture(scope="session")
def dbengine(app_settings, ini_file):
    engine = models.get_engine(app_settings)
    alembic_cfg = alembic.config.Config(ini_file)
    Base.metadata.drop_all(bind=engine)
    alembic.command.stamp(alembic_cfg, None, purge=True)
    # The schema comes from the migrations, as in production.
    alembic.command.upgrade(alembic_cfg, "head")
    yield engine
    Base.metadata.drop_all(bind=engine)
    alembic.command.stamp(alembic_cfg, None, purge=True)


@pytest.fixture(scope="session")
def app(app_settings, dbengine):
    return main({}, dbengine=dbengine, **app_settings)


@pytest.fixture
def tm():
    tm = transaction.TransactionManager(explicit=True)
    tm.begin()
    tm.doom()
    yield tm
    tm.abort()


@pytest.fixture
def dbsession(app, tm):
    return models.get_tm_session(app.registry["dbsession_factory"], tm)


@pytest.fixture
def testapp(app, tm, dbsession):
    # Every request of a test shares the test's transaction manager and session,
    # which are aborted at the end: nothing a test does stays in the database.
    return webtest.TestApp(app, extra_environ={
        "HTTP_HOST": "example.com",
        "tm.active": True,
        "tm.manager": tm,
        "app.dbsession": dbsession,
    })


@pytest.fixture
def social_login_app(social_login_settings, bitbucket_emulator_server):
    """cms_social_login's test kit runs on this site: our tables, the add-on's, an editor
    account, and Bitbucket at the kit's emulator."""
    from cms_social_login.migrations import upgrade

    app = main({}, **social_login_settings,
               **{f"cms_social_login.bitbucket.{key}": getattr(bitbucket_emulator_server, key)
                  for key in ("authorize_url", "token_url", "api_url")})
    engine = app.registry["dbsession_factory"].kw["bind"]
    Base.metadata.create_all(engine)
    upgrade(engine)
    with transaction.manager:
        editor = models.User(name="editor", is_editor=True)
        editor.set_password("editor")
        models.get_tm_session(app.registry["dbsession_factory"], transaction.manager).add(editor)
    yield app
    engine.dispose()
