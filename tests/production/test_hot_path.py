"""The hot paths cost the statements they cannot avoid, and no more.

Statements are counted with SQLAlchemy's ``before_cursor_execute`` event on the site's
engine (``BEGIN`` / ``COMMIT`` are not cursor statements and are not counted).
"""

from __future__ import annotations

import os
import time
from datetime import timedelta

import pytest
from sqlalchemy import event
from sqlalchemy.orm import Session

from cms_social_login.models import UsedLoginState, get_social_login_engine
from cms_social_login.models.records import utcnow
from cms_social_login.services import published
from cms_social_login.testing.steps import make_browser as browser_of

from ..helpers import SECRET_KEY, callback_path, sql_statements, start_login, submit_bitbucket
from ..security.helpers import dbsession_of


def shapes(statements: list[str]) -> list[str]:
    """Each statement's verb and table, e.g. ``SELECT social_login_settings``."""
    result = []
    for statement in statements:
        words = statement.split()
        verb = words[0].upper()
        after = {"SELECT": "FROM", "INSERT": "INTO", "DELETE": "FROM", "UPDATE": "UPDATE"}
        key = after.get(verb)
        table = "?"
        if key is not None:
            upper = [w.upper() for w in words]
            if key in upper:
                table = words[upper.index(key) + 1]
        result.append(f"{verb} {table}")
    return result


def password_form(page):
    """The login page's username and password form."""
    return next(form for form in page.forms.values() if form.action.endswith("/login"))


@pytest.fixture
def settled(app):
    """The site, its published snapshot trusted for an hour (statement counts that do not
    depend on how long the machine takes between two requests)."""
    app.registry[published.MAX_AGE_KEY] = 3600
    return app


def test_login_page_costs_no_statement(settled, published_bitbucket, visitor):
    visitor.get("/login")  # the first request of the process after Save loads the document
    with sql_statements(settled) as statements:
        page = visitor.get("/login")
    assert "Log in with Bitbucket" in page.text
    # The published snapshot was checked less than published_max_age ago; an anonymous
    # visitor has no account to load, and the session lives in a signed cookie.
    assert statements == []


@pytest.mark.fresh_app  # a subscriber of its own
def test_login_page_opens_no_database_session(settled, published_bitbucket, visitor):
    """An anonymous visitor has no account to load: no database session is made for the
    page, the host's (``request.dbsession``) nor the add-on's (making one and joining it
    to the transaction cost the page a third of its time)."""
    from pyramid.events import NewResponse

    opened: list[list[str]] = []

    def note(event):
        opened.append([name for name in ("dbsession", "social_login_dbsession")
                       if name in vars(event.request)])

    settled.registry.registerHandler(note, (NewResponse,))
    visitor.get("/login")  # the first request of the process after Save loads the document
    page = visitor.get("/login")
    assert "Log in with Bitbucket" in page.text
    assert opened[-1] == []


def test_an_anonymous_visitor_gets_the_page_without_a_cookie(settled, published_bitbucket,
                                                           visitor):
    page = visitor.get("/login")
    assert "Log in with Bitbucket" in page.text
    assert page.headers.getall("Set-Cookie") == []
    # Wrong password: the page again, still no session.
    form = password_form(page)
    form["login"], form["password"] = "editor", "wrong password"
    failed = form.submit(status=400)
    assert "Wrong username or password." in failed.text
    assert failed.headers.getall("Set-Cookie") == []
    # The right one: signed in, and now the visitor has a session.
    form = password_form(failed)
    form["password"] = "editor"
    signed_in = form.submit(status=303)
    assert any(c.startswith("cms_session=") for c in signed_in.headers.getall("Set-Cookie"))
    assert "You are signed in as" in visitor.get("/login").text


def test_a_visitor_with_a_session_finds_its_token_in_the_shared_page(settled,
                                                                    published_bitbucket,
                                                                    make_browser):
    browsers = [make_browser(), make_browser()]
    for browser in browsers:  # a failed login leaves a message, hence a session
        browser.get("/login/bitbucket/callback?error=access_denied")
        browser.get("/login")  # shows the message once
    pages = [browser.get("/login") for browser in browsers]
    tokens = [password_form(page)["csrf_token"].value for page in pages]
    assert tokens[0] != tokens[1]
    assert all(page.headers.getall("Set-Cookie") == [] for page in pages)
    # Each token is its own session's: another session's is refused, its own works.
    for browser, token in ((browsers[1], tokens[0]), (browsers[0], tokens[0])):
        form = password_form(pages[0])
        form["login"], form["password"] = "editor", "editor"
        expected = 303 if browser is browsers[0] else 400
        browser.post("/login", [(k, token if k == "csrf_token" else v)
                                for k, v in form.submit_fields()], status=expected)


def test_a_save_costs_the_next_login_page_one_read(settled, published_bitbucket, visitor):
    visitor.get("/login")
    form = published_bitbucket.get(
        "/editor/system-pages/login/settings?tab=bitbucket").forms["login-settings-form"]
    form["bitbucket.enabled"] = False
    form.submit("action", value="save").follow()
    with sql_statements(settled) as statements:
        page = visitor.get("/login")
    assert "Log in with Bitbucket" not in page.text
    # The Save dropped this process's snapshot when it committed (however long the
    # bound), so the site is not held: one read of the published row with its document.
    assert shapes(statements) == ["SELECT social_login_settings"], statements
    assert "document" in statements[0]


@pytest.mark.fresh_app  # a subscriber of its own
def test_starting_a_login_costs_no_statement(settled, published_bitbucket, visitor,
                                            bitbucket, bitbucket_user):
    from pyramid.events import NewResponse

    opened: list[list[str]] = []

    def note(event):
        opened.append([name for name in ("dbsession", "social_login_dbsession")
                       if name in vars(event.request)])

    settled.registry.registerHandler(note, (NewResponse,))
    visitor.get("/login")
    with sql_statements(settled) as statements:
        start_login_response = visitor.get("/login/bitbucket")
    assert start_login_response.status_int == 302
    # The pending login goes into the visitor's session cookie: no database session is
    # even made.
    assert statements == []
    assert opened[-1] == []
    assert start_login_response.headers.getall("Set-Cookie")


def test_callback_of_a_returning_user(settled, published_bitbucket, visitor, make_browser,
                                      bitbucket, bitbucket_user):
    first = make_browser()
    first.get(callback_path(bitbucket.approve(start_login(first)))).follow()
    authorize = start_login(visitor)
    back = callback_path(bitbucket.approve(authorize))
    flushed = []

    def note_flush(session, _context, _instances) -> None:
        flushed.extend(type(obj).__name__ for obj in [*session.new, *session.dirty])

    event.listen(Session, "before_flush", note_flush)
    try:
        with sql_statements(settled) as statements:
            response = visitor.get(back)
    finally:
        event.remove(Session, "before_flush", note_flush)
    assert response.status_int == 303
    assert not response.location.split("?")[0].endswith("/login"), response.location
    # Every write is a statement built once and run at once: no ORM unit of work (which
    # sorts and builds its INSERTs at commit) is left to flush.
    assert flushed == []
    # The state: single use, its hash inserted by primary key (on PostgreSQL before the
    # provider call; on SQLite, whose write lock is the whole database's, after it).
    state = ["INSERT social_login_used_states"]
    assert shapes(statements) == [
        *state,
        "UPDATE social_login_identities",  # found by its unique key (site, provider,
                                           # issuer, user id), the host's account checked
                                           # to exist, last login time, name and email
        "INSERT social_login_sessions",    # this sign-in's session, revocable at logout
        "INSERT social_login_audit",       # the sign-in, in the audit log
    ], statements
    identity_update = statements[len(state)]
    assert "RETURNING" in identity_update
    assert "ON CONFLICT" in statements[0] and "RETURNING" in statements[0]
    for column in ("site", "provider", "issuer", "provider_user_id"):
        assert f"social_login_identities.{column} =" in identity_update
    assert "demo_users" in identity_update  # the account exists, in the same statement
    # Ended sessions and used states were swept by this process's first sign-in
    # (``first`` above).
    assert not any(s.startswith("DELETE") for s in statements)


def test_a_slow_provider_answer_holds_up_no_other_login(published_bitbucket, visitor,
                                                        make_browser, bitbucket, bitbucket_user):
    """While one callback waits for the provider, another visitor's whole login (its
    start, and its callback's writes) goes through at once: no write lock (the whole
    database's, on SQLite, where the state is taken after the provider's answer) is held
    across the call."""
    import threading

    back = callback_path(bitbucket.approve(start_login(visitor)))
    bitbucket.fail("token", status=None, delay=3.0)  # the provider answers in 3 seconds
    answers = []
    slow = threading.Thread(target=lambda: answers.append(visitor.get(back)))
    slow.start()
    try:
        time.sleep(0.5)  # the first callback is now waiting for the token endpoint
        other = make_browser()
        started = time.monotonic()
        location = start_login(other)
        signed_in = other.get(callback_path(bitbucket.approve(location)), status=303)
        took = time.monotonic() - started
    finally:
        slow.join(timeout=30)
    assert not signed_in.location.split("?")[0].endswith("/login"), signed_in.location
    assert took < 1.5, f"a login waited {took:.1f} s for another login's provider call"
    # ... and the slow login itself still signs its visitor in.
    assert [a.status_int for a in answers] == [303]
    assert not answers[0].location.split("?")[0].endswith("/login"), answers[0].location


def test_a_sweep_holds_up_no_other_process_while_the_provider_answers(
        app_settings, app, published_bitbucket, make_browser, bitbucket, bitbucket_user):
    """Each process sweeps old used states now and then, in a callback. One that sweeps
    and then waits for a slow provider must not keep the swept rows locked meanwhile:
    another process's sweep (its first callback) would wait for that answer too."""
    import threading

    from cms_demo import main

    long_ago = utcnow() - timedelta(hours=1)
    with dbsession_of(app) as db:
        db.add_all(UsedLoginState(state_hash=f"{n:064x}", used_at=long_ago) for n in range(5))
        db.commit()
    other_process = main({}, **app_settings)
    try:
        slow_visitor, quick_visitor = make_browser(), browser_of(other_process)
        slow_back = callback_path(bitbucket.approve(start_login(slow_visitor)))
        quick_back = callback_path(bitbucket.approve(start_login(quick_visitor)))
        bitbucket.fail("token", status=None, delay=3.0)  # the next answer takes 3 seconds
        answers = []
        slow = threading.Thread(target=lambda: answers.append(slow_visitor.get(slow_back)))
        slow.start()
        try:
            time.sleep(0.5)  # the first process's callback has swept and now waits
            started = time.monotonic()
            quick = quick_visitor.get(quick_back)
            took = time.monotonic() - started
        finally:
            slow.join(timeout=30)
    finally:
        other_process.registry["cms_social_login.dbsession_factory"].kw["bind"].dispose()
    assert quick.status_int == 303 and quick.location == "http://localhost/"
    assert took < 1.5, f"a callback waited {took:.1f} s for another login's provider call"
    assert [answer.status_int for answer in answers] == [303]
    with dbsession_of(app) as db:
        assert db.query(UsedLoginState).count() == 2  # the old ones swept, two new ones


def test_a_stated_bound_spares_even_the_version_read(app_settings, app, published_bitbucket,
                                                     monkeypatch):
    import webtest

    from cms_demo import main

    # A second process of the same site, configured to trust a check for 30 seconds.
    bounded = main({}, **{**app_settings, published.MAX_AGE_SETTING: "30"})
    try:
        other = webtest.TestApp(bounded, extra_environ={"HTTP_HOST": "localhost"})
        assert "Log in with Bitbucket" in other.get("/login").text
        with sql_statements(bounded) as statements:
            assert "Log in with Bitbucket" in other.get("/login").text
        assert statements == []
        # A Save on the first process shows on this one within the bound, not at once.
        submit_bitbucket(published_bitbucket, "save", enabled=False).follow()
        assert "Log in with Bitbucket" in other.get("/login").text
        later = time.monotonic() + 31
        monkeypatch.setattr(published.time, "monotonic", lambda: later)
        with sql_statements(bounded) as statements:
            assert "Log in with Bitbucket" not in other.get("/login").text
        # One poll of every site's Saves finds it; then the site's row with its document.
        assert shapes(statements) == ["SELECT social_login_publish_history",
                                      "SELECT social_login_settings"], statements
    finally:
        get_social_login_engine(bounded.registry).dispose()


def test_shipped_head_is_alembics_head():
    from cms_social_login.migrations import head_revision
    from cms_social_login.schema_version import shipped_head

    assert shipped_head() == head_revision()


def modules_a_worker_loads(app_settings, steps: str, modules: tuple[str, ...]) -> list[str]:
    """Which of ``modules`` a fresh process of the site has imported after ``steps`` (Python
    lines run with ``site``, a WebTest app of the site)."""
    import json
    import subprocess
    import sys

    script = (
        "import json, sys, webtest\n"
        "from cms_demo import main\n"
        "site = webtest.TestApp(main({}, **json.loads(sys.argv[1])),\n"
        "                       extra_environ={'HTTP_HOST': 'localhost'})\n"
        f"{steps}\n"
        f"print(json.dumps(sorted(m for m in {modules!r} if m in sys.modules)))\n")
    settings = {key: str(value) for key, value in app_settings.items()}
    done = subprocess.run([sys.executable, "-c", script, json.dumps(settings)],
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


def test_a_worker_on_a_migrated_database_does_not_import_alembic(app_settings, app):
    # ``app`` migrated the database; a second process of the site starts on it.
    assert modules_a_worker_loads(app_settings, "", ("alembic", "mako", "pygments")) == []


#: What a worker serving only the login page never imports: the login libraries
#: (cryptography for secrets at rest and joserfc for ID tokens, about 10 MiB of a worker;
#: requests + urllib3 for provider calls, about 4 MiB; Authlib's OAuth 2.0 client), the
#: schema tools (Alembic and its Mako templates), Babel (the catalogs command), and the
#: add-on's own command-line, migration and test-kit modules (the emulators among them).
#: A login or an editor's page loads what it needs of them.
NOT_ON_THE_LOGIN_PAGE = (
    "cryptography", "joserfc", "requests", "urllib3", "authlib", "alembic", "mako",
    "babel", "cms_social_login.migrations", "cms_social_login.scripts",
    "cms_social_login.testing")


def test_a_worker_serving_the_login_page_does_not_import_the_login_libraries(
        app_settings, app, published_bitbucket):
    steps = "assert 'Log in with Bitbucket' in site.get('/login').text"
    assert modules_a_worker_loads(app_settings, steps, NOT_ON_THE_LOGIN_PAGE) == []


def test_a_production_worker_serving_the_login_page_loads_only_what_it_uses(
        app_settings, app, published_bitbucket):
    """The worker of benchmark 4, started as ``pserve production.ini`` loads it (the
    settings from the environment), serves the login page a hundred times and has loaded
    none of :data:`NOT_ON_THE_LOGIN_PAGE` (their memory is not the page's)."""
    import json
    import subprocess
    import sys
    from pathlib import Path

    production_ini = Path(__file__).resolve().parents[2] / "production.ini"
    # Nor the other database's dialect (a login builds its statement for its own).
    other = ("sqlite" if app_settings["sqlalchemy.url"].startswith("postgresql")
             else "postgresql")
    not_loaded = (*NOT_ON_THE_LOGIN_PAGE, f"sqlalchemy.dialects.{other}")
    # pserve's own loading (plaster, PasteDeploy), and the page through the WSGI app with
    # WebOb, which the worker has loaded anyway (no test client's imports in the count).
    script = (
        "import json, sys\n"
        "from pyramid.paster import get_app\n"
        "from webob import Request\n"
        "site = get_app(sys.argv[1], options={'http_port': '6543'})\n"
        "for _ in range(100):\n"
        "    page = Request.blank('/login', host='localhost').get_response(site)\n"
        "    assert page.status_code == 200 and 'Log in with Bitbucket' in page.text\n"
        f"print(json.dumps(sorted(m for m in {not_loaded!r}\n"
        "                         if m in sys.modules)))\n")
    environment = {
        "CMS_SOCIAL_LOGIN_SQLALCHEMY_URL": app_settings["sqlalchemy.url"],
        "CMS_SOCIAL_LOGIN_SECRET_KEY": SECRET_KEY,
        "CMS_SOCIAL_LOGIN_SITE_URL": "http://localhost"}
    done = subprocess.run([sys.executable, "-c", script, str(production_ini)],
                          env={**os.environ, **environment}, capture_output=True,
                          text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    assert json.loads(done.stdout.strip().splitlines()[-1]) == []


def test_every_module_imports():
    """Modules a worker imports only when needed (the login libraries, the commands, the
    migrations, the test kit) still fail here, not first in production, when broken."""
    import subprocess
    import sys

    script = (
        "import importlib, pkgutil, cms_social_login, cms_demo\n"
        "for package in (cms_social_login, cms_demo):\n"
        "    for module in pkgutil.walk_packages(package.__path__, package.__name__ + '.'):\n"
        "        if module.name != 'cms_social_login.migrations.env':  # run by Alembic\n"
        "            importlib.import_module(module.name)\n"
        "print('all imported')\n")
    done = subprocess.run([sys.executable, "-W", "ignore", "-c", script],
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.strip() == "all imported"


def test_keys_are_derived_as_before_without_the_cryptography_package():
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.kdf.hkdf import HKDF

    from cms_social_login.crypto import KDF_SALT, derive_key

    # Secrets stored by earlier releases (keys from cryptography's HKDF) still decrypt.
    for secret_key, purpose, length in (("k" * 64, "secrets at rest", 32),
                                        ("clé", "session cookie", 32), ("s", "", 100)):
        expected = HKDF(algorithm=hashes.SHA256(), length=length, salt=KDF_SALT,
                        info=purpose.encode()).derive(secret_key.encode())
        assert derive_key(secret_key, purpose, length) == expected


def test_only_the_anonymous_login_page_runs_without_a_transaction(app_settings, app,
                                                                  published_bitbucket):
    import webtest
    from pyramid.events import ContextFound
    from transaction.interfaces import NoTransaction

    from cms_demo import main

    # The hooks development.ini and production.ini set (the demo needs no database to
    # tell the site or an anonymous visitor).
    hooked = main({}, **{**app_settings,
                         "tm.activate_hook": "cms_social_login.transactions.needs_transaction",
                         "retry.activate_hook": "cms_social_login.transactions.retry_attempts"})
    seen: list[tuple[str, bool]] = []

    def note(event):
        try:
            event.request.tm.get()
            active = True
        except NoTransaction:
            active = False
        seen.append((f"{event.request.method} {event.request.path_qs}", active))

    hooked.registry.registerHandler(note, (ContextFound,))  # inside pyramid_tm's tween
    try:
        visitor = webtest.TestApp(hooked, extra_environ={"HTTP_HOST": "localhost"})
        page = visitor.get("/login")
        assert "Log in with Bitbucket" in page.text
        assert "Log in with Bitbucket" in visitor.get("/login?came_from=/somewhere").text
        # A visitor who brings a cookie (here: the session a login start gives) gets one.
        visitor.get("/login/bitbucket", status=302)
        assert visitor.cookies and "Log in with Bitbucket" in visitor.get("/login").text
        form = password_form(page)
        form["login"], form["password"] = "editor", "editor"
        form.submit(status=303)
        assert "You are signed in as" in visitor.get("/login").text
        assert seen == [("GET /login", False), ("GET /login?came_from=/somewhere", False),
                        ("GET /login/bitbucket", True),
                        ("GET /login", True), ("POST /login", True), ("GET /login", True)]
    finally:
        hooked.registry["cms_social_login.dbsession_factory"].kw["bind"].dispose()
