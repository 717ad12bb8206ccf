"""The site is built once per worker for the same settings and reused (``app`` here, the
kit's ``social_login_app``): each test gets it as a site freshly built on a fresh database
would be. What one test leaves in the site's memory or its database, the next never sees.

The first two tests run in file order on one worker (tests/conftest.py groups the module).
"""

from __future__ import annotations

import pytest
from sqlalchemy import select

from cms_social_login.cached_state import PROCESS_STATE_KEYS, forget_cached_state
from cms_social_login.models import LoginSettings, PublishRecord
from cms_social_login.models.records import SignedInSession
from cms_social_login.providers.registry import get_provider_registry
from cms_social_login.services.published import site_cache, site_pages
from cms_social_login.testing import steps

from .helpers import bitbucket_buttons, callback_path, start_login, submit_bitbucket
from .security.helpers import dbsession_of


@pytest.fixture(scope="module")
def seen() -> dict[str, dict]:
    """What the first test left, by database kind, for the second to compare with."""
    return {}


def rows(app) -> dict[str, list]:
    """The rows a Save and a sign-in write."""
    with dbsession_of(app) as db:
        return {model.__name__: db.scalars(select(model)).all()
                for model in (LoginSettings, PublishRecord, SignedInSession)}


def test_a_test_publishes_and_the_site_remembers_it(app, published_bitbucket, visitor,
                                                    oidc_emulator, seen, database_kind):
    assert bitbucket_buttons(visitor.get("/login"))
    assert site_cache(app.registry).keys() == ["default"]
    assert site_pages(app.registry).keys() == ["default"]
    providers = get_provider_registry(app.registry)
    oidc = providers.get("oidc")
    assert oidc.warm({"issuer": oidc_emulator.issuer}) is None
    assert len(oidc.discovery_cache) == len(oidc.jwks_cache) == 1
    assert all(rows(app).values())
    seen[database_kind] = {"app": app, "http": {p.name: p.http for p in providers
                                                if hasattr(p, "http")}}


def test_the_next_test_gets_the_same_site_as_new(app, visitor, seen, database_kind):
    if database_kind not in seen:
        pytest.skip("runs after the test above")
    assert app is seen[database_kind]["app"]  # reused, not built again
    # Nothing of the last test in memory: no published settings, pages, watch, sweeps...
    assert [key for key in PROCESS_STATE_KEYS if key in app.registry] == []
    providers = get_provider_registry(app.registry)
    assert len(providers.get("oidc").discovery_cache) == len(providers.get("oidc").jwks_cache) \
        == 0
    for name, http in seen[database_kind]["http"].items():  # new clients: no call in flight
        assert providers.get(name).http is not http
    # ...nor in the database: the login page has no button, no Save and no session rows.
    assert not bitbucket_buttons(visitor.get("/login"))
    assert rows(app) == {"LoginSettings": [], "PublishRecord": [], "SignedInSession": []}
    assert site_cache(app.registry).keys() == ["default"]  # read again, found unpublished


@pytest.mark.fresh_app
def test_every_key_the_site_keeps_is_one_forget_cached_state_forgets(
        app, make_browser, bitbucket, bitbucket_user):
    started = set(app.registry)  # the registry as the start left it (a site of its own)
    editor, visitor = make_browser(), make_browser()
    steps.sign_in(editor)
    submit_bitbucket(editor, "save").follow()
    visitor.get("/login")
    visitor.get(callback_path(bitbucket.approve(start_login(visitor)))).follow()
    editor.get("/editor/system-pages/login/audit")
    kept = set(app.registry) - started
    assert kept and kept <= set(PROCESS_STATE_KEYS)
    forget_cached_state(app.registry)
    assert set(app.registry) == started
    assert bitbucket_buttons(make_browser().get("/login"))  # read from the database again
