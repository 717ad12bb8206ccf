"""Random input at every public and editor route: never a 5xx, never a new user, never a
changed record, never a changed session.

Hypothesis drives paths, query strings, form bodies and headers with arbitrary Unicode,
control characters, bytes that are not UTF-8 and oversize values. The runs are
derandomized (the same examples on every machine) and bounded per test, so CI is stable.
"""

from __future__ import annotations

from urllib.parse import quote, quote_from_bytes, unquote_to_bytes

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select
from webob import Request

from cms_demo.models import User
from cms_social_login.models import LinkedIdentity, LoginSettings, PublishRecord
from cms_social_login.models.records import SignedInSession

from ..helpers import settings_form
from .helpers import dbsession_of

FUZZ = settings(max_examples=60, deadline=None, derandomize=True,
                suppress_health_check=[HealthCheck.function_scoped_fixture,
                                       HealthCheck.too_slow])

text = st.text(alphabet=st.characters(codec="utf-8", exclude_categories=("Cs",)),
               max_size=80)
known_keys = st.sampled_from(["code", "state", "error", "error_description", "came_from",
                              "bitbucket.enabled", "bitbucket.client_id",
                              "bitbucket.client_secret", "bitbucket.client_secret.pending",
                              "bitbucket.position", "bitbucket.link_by_email", "tab",
                              "draft_version", "action"])
pairs = st.lists(st.tuples(st.one_of(known_keys, text), text), max_size=8)


def snapshot(app):
    """What a request must not change: the settings, how many publications, users and
    linked identities there are, and the signed-in sessions (read in one transaction)."""
    with dbsession_of(app) as db:
        counts = [db.scalar(select(func.count()).select_from(model))
                  for model in (PublishRecord, User, LinkedIdentity)]
        return ([(r.stage, r.version, r.document) for r in db.scalars(select(LoginSettings))],
                *counts, sorted(db.scalars(select(SignedInSession.token_hash))))


@FUZZ
@given(query=pairs, provider=st.sampled_from(["bitbucket", "nosuch", "BITBUCKET", "%00"]))
def test_random_callbacks(app, published_bitbucket, visitor, query, provider):
    before = snapshot(app)
    response = visitor.get(f"/login/{provider}/callback", params=query, status="*")
    assert response.status_int < 500
    assert snapshot(app) == before
    assert "Traceback" not in response.text


class ShownDraftVersion:
    """The draft version the editor's settings form shows, read again after a post that
    stored something (read once otherwise: a GET of the form per example costs seconds)."""

    def __init__(self, editor) -> None:
        self.editor = editor
        self.version: str | None = None

    def __call__(self) -> str:
        if self.version is None:
            self.version = settings_form(self.editor)["draft_version"].value
        return self.version

    def stored(self) -> None:
        self.version = None


@pytest.fixture
def shown_draft_version(published_bitbucket) -> ShownDraftVersion:
    return ShownDraftVersion(published_bitbucket)


@pytest.fixture
def form_names(published_bitbucket) -> list[str]:
    """The names of the settings form's fields (every tab's), as the editor's page has
    them: a post naming anything else is refused whole ("unknown form fields") before any
    field is checked, so random names alone would never reach the checks."""
    names = settings_form(published_bitbucket).fields
    return sorted(name for name in names if name and name not in ("csrf_token", "action"))


@FUZZ
@given(data=st.data(), action=st.one_of(st.sampled_from(["ok", "apply", "save", "preview"]),
                                        text))
def test_random_settings_forms(app, published_bitbucket, editor_token, shown_draft_version,
                               form_names, data, action):
    editor = published_bitbucket
    fields = data.draw(st.lists(st.tuples(st.sampled_from(form_names), text), max_size=8))
    before = snapshot(app)
    # The form's own version first, so the random values reach the settings' checks (a
    # random draft_version among them still overrides it).
    body = [("csrf_token", editor_token), ("draft_version", shown_draft_version()),
            *fields, ("action", action)]
    response = editor.post("/editor/system-pages/login/settings", body, status="*")
    assert response.status_int < 500
    if response.status_int != 303:  # only a valid Apply/Save/Preview may store
        assert snapshot(app) == before
    else:
        shown_draft_version.stored()
    assert "Traceback" not in response.text


# --------------------------------------------------------------------------- every route

#: Bits that have broken parsers elsewhere: line breaks, NUL, bytes that are not UTF-8
#: (sent percent-encoded), dot segments, separators, Unicode line separators, and digits
#: that are not ASCII (``str.isdigit`` says yes to "²" and "①", ``int`` refuses them).
TRICKY = st.sampled_from(["\r\n", "\x00", "%00", "%ff", "%c3%28", "%", "%%", "..", "../",
                          "%2e%2e%2f", "\u2028", "\u0085", "\ufeff", "&", "=", ";", "?",
                          "#", "/", "\\", "'\"<>", "9" * 30, "9" * 5000, "-1", "1", "0",
                          "\u00b2", "\u2460", "\u0663", "1\u00b2"])
#: Charsets a form may declare: WebOb reads UTF-8 forms only.
CHARSETS = st.sampled_from([None, "utf-8", "latin-1", "utf-16", "bogus", ""])
#: Arbitrary Unicode (no lone surrogates: they cannot travel as UTF-8) with controls.
unicode_text = st.text(alphabet=st.characters(codec="utf-8"), max_size=40)
oversize = st.integers(min_value=3000, max_value=70_000).map(lambda n: "\u00e9" * n)
fuzz_value = st.one_of(
    st.lists(st.one_of(unicode_text, TRICKY), max_size=4).map("".join),
    st.binary(max_size=24),  # raw bytes, most of them not UTF-8
    oversize,
)


def wire(value: str | bytes) -> str:
    """``value`` percent-encoded as a browser sends it (UTF-8 for text)."""
    if isinstance(value, bytes):
        return quote_from_bytes(value, safe="")
    return quote(value, safe="%")  # a "%" stays raw: malformed escapes are part of the test


def as_header(value: str | bytes) -> str:
    """What a WSGI server hands the site for a header sent as these bytes (PEP 3333:
    Latin-1 decoded). Line breaks end a header on the wire, so none remain."""
    raw = value if isinstance(value, bytes) else value.encode("utf-8")
    return raw.replace(b"\r", b"").replace(b"\n", b"").decode("latin-1")


def query_string(pairs) -> str:
    return "&".join(f"{wire(key)}={wire(value)}" for key, value in pairs)


PUBLIC_ROUTES = ["/", "/login", "/logout", "/login/{}", "/login/{}/callback",
                 "/account/connections", "/{}", "/login/{}/{}", "/_cms_social_login_static/{}"]
EDITOR_ROUTES = ["/editor", "/editor/system-pages", "/editor/system-pages/login",
                 "/editor/system-pages/login/settings", "/editor/system-pages/login/preview",
                 "/editor/system-pages/login/history", "/editor/system-pages/login/history/{}",
                 "/editor/system-pages/login/audit", "/editor/{}", "/account/connections",
                 "/login/{}", "/login/{}/callback"]  # signed in: the SSO routes link accounts
HEADERS = ["Accept-Language", "Accept", "Referer", "Origin", "User-Agent", "Host",
           "X-Forwarded-Proto", "X-Forwarded-Host", "X-Forwarded-For", "If-None-Match",
           "If-Modified-Since", "Authorization", "Range", "Content-Type", "X-Requested-With"]
form_keys = st.one_of(known_keys, st.sampled_from(["login", "password", "came_from",
                                                   "identity", "confirm_replace_draft",
                                                   "csrf_token", "page", "days", "format",
                                                   "version", "kind"]), unicode_text)
requests_ = st.fixed_dictionaries({
    "segments": st.lists(fuzz_value, min_size=2, max_size=2),
    # Mostly the methods the routes answer; the others must get a 404/405, never a 500.
    "method": st.sampled_from(["GET"] * 3 + ["POST"] * 3 + ["HEAD", "PUT", "DELETE",
                                                            "OPTIONS"]),
    "query": st.lists(st.tuples(form_keys, fuzz_value), max_size=5),
    "form": st.one_of(st.lists(st.tuples(form_keys, fuzz_value), max_size=6),
                      st.binary(max_size=200)),
    "headers": st.dictionaries(st.sampled_from(HEADERS), fuzz_value, max_size=4),
    "with_csrf_token": st.booleans(),
    "charset": CHARSETS,
})


def send(app, route: str, request: dict, token: str | None = None, cookie=None):
    """Send one fuzzed request to ``app`` as a WSGI server would; return the response.

    Straight through WebOb, not WebTest: the test controls every header (Host and Cookie
    included), and checks itself what a server would refuse to send.
    """
    path = route.format(*(wire(s) for s in request["segments"]))
    # The path decoded as waitress decodes it (urllib's unquote_to_bytes, then Latin-1 as
    # PEP 3333 asks), not by ``Request.blank``: WebOb's unquote takes time quadratic in the
    # number of escapes, seconds per oversize path, all of it spent in the test, not the site.
    environ = {"PATH_INFO": unquote_to_bytes(path).decode("latin-1"),
               "QUERY_STRING": query_string(request["query"])}
    headers = {"Host": "localhost"}
    headers.update((name, as_header(value)) for name, value in request["headers"].items())
    if cookie is not None:
        headers["Cookie"] = cookie
    body = b""
    if request["method"] in ("POST", "PUT"):
        form = request["form"]
        if isinstance(form, bytes):
            body = form
        else:
            pairs = ([("csrf_token", token)] if token and request["with_csrf_token"] else [])
            body = query_string([*pairs, *form]).encode("ascii")
            charset = request["charset"]
            headers.setdefault("Content-Type", "application/x-www-form-urlencoded" + (
                "" if charset is None else f"; charset={charset}"))
    fuzzed = Request.blank("/", environ=environ, method=request["method"], headers=headers,
                           body=body)
    return fuzzed.get_response(app)


def assert_handled(response) -> None:
    """Below 500, no stack trace, and headers a WSGI server can send (PEP 3333: Latin-1,
    no line breaks)."""
    assert response.status_int < 500, response.status
    assert b"Traceback" not in response.body
    for name, value in response.headerlist:
        value.encode("latin-1")
        assert "\r" not in value and "\n" not in value, (name, value)


def cookie_of(browser) -> str:
    """The Cookie header ``browser`` sends."""
    return "; ".join(f"{cookie.name}={cookie.value}" for cookie in browser.cookiejar)


def signed_in(browser) -> bool:
    return browser.get("/editor/system-pages/login", status="*").status_int == 200


@pytest.fixture
def editor_token(published_bitbucket) -> str:
    """The signed-in editor's CSRF token (one per session: valid for every example, as
    no request here signs the editor out)."""
    return settings_form(published_bitbucket)["csrf_token"].value


#: Examples per route and test: enough to reach the odd corners, few enough for CI.
PER_ROUTE = settings(FUZZ, max_examples=30)


@pytest.mark.parametrize("route", PUBLIC_ROUTES)
@PER_ROUTE
@given(request=requests_, cookie=st.one_of(st.none(), fuzz_value.map(as_header)))
def test_random_requests_to_public_routes(app, published_bitbucket, route, request, cookie):
    before = snapshot(app)
    response = send(app, route, request, cookie=cookie)
    assert_handled(response)
    assert snapshot(app) == before  # nothing stored, nobody signed in (no session row) ...
    assert signed_in(published_bitbucket)  # ... and nobody else was signed out


@pytest.mark.parametrize("route", EDITOR_ROUTES)
@PER_ROUTE
@given(request=requests_)
def test_random_requests_to_editor_routes(app, published_bitbucket, editor_token, route,
                                          request):
    editor = published_bitbucket
    before = snapshot(app)
    response = send(app, route, request, token=editor_token, cookie=cookie_of(editor))
    assert_handled(response)
    if not (request["method"] == "POST" and response.status_int == 303):
        assert snapshot(app) == before  # only a valid Apply, Save or restore may store
    assert signed_in(editor)


@pytest.mark.parametrize("url", ["/login?came_from=%80", "/login/%C3%28",
                                 "/editor/system-pages/login/history/%80",
                                 "/login/bitbucket/callback?state=%ff", "/?code=%80"],
                         ids=["query", "path", "editor-path", "callback", "host-page"])
def test_bytes_that_are_not_utf8_get_a_plain_400(app, url):
    headers = {"Host": "localhost", "Accept-Language": "de"}
    response = Request.blank(url, headers=headers).get_response(app)
    assert response.status_int == 400
    assert "Zeichen, die wir nicht lesen" in response.text  # in the visitor's language


def test_the_hosts_pages_survive_the_add_ons_locale_negotiator(app):
    """The host's page keeps the host's negotiator; a ``_LOCALE_`` that is not UTF-8 (which
    Pyramid's default negotiator cannot read) is the plain 400 of any such query."""
    page = Request.blank("/?_LOCALE_=de", headers={"Host": "localhost"}).get_response(app)
    assert page.status_int == 200
    response = Request.blank("/?_LOCALE_=%ff", headers={"Host": "localhost"}).get_response(app)
    assert response.status_int == 400 and response.content_type == "text/plain"


#: Every POST route, with who sends it (the editor's routes need the editor).
POST_ROUTES = [("/login", False), ("/logout", True), ("/account/connections", True),
               ("/editor/system-pages/login/settings", True),
               ("/editor/system-pages/login/history/1", True)]


@pytest.mark.parametrize("charset", ["bogus", "latin-1"])
@pytest.mark.parametrize("route,signed_in_editor", POST_ROUTES,
                         ids=[route for route, _ in POST_ROUTES])
def test_a_form_in_another_charset_gets_a_plain_400(app, published_bitbucket, editor_token,
                                                    route, signed_in_editor, charset):
    """WebOb reads UTF-8 forms only: a form declared in another (or a made-up) charset is
    a plain 400 on every POST route, and changes nothing."""
    before = snapshot(app)
    headers = {"Host": "localhost",
               "Content-Type": f"application/x-www-form-urlencoded; charset={charset}"}
    if signed_in_editor:
        headers["Cookie"] = cookie_of(published_bitbucket)
    body = f"csrf_token={editor_token}&login=\xe9&identity=1&action=ok".encode("latin-1")
    response = Request.blank(route, method="POST", headers=headers, body=body
                             ).get_response(app)
    assert response.status_int == 400
    assert response.content_type == "text/plain"
    assert snapshot(app) == before


SUPERSCRIPT_TWO = "%C2%B2"  # "²": str.isdigit() says yes, int() refuses it


@pytest.mark.parametrize("url", [
    f"/editor/system-pages/login/history/{SUPERSCRIPT_TWO}",
    f"/editor/system-pages/login/audit?page={SUPERSCRIPT_TWO}",
    f"/editor/system-pages/login/audit?days={SUPERSCRIPT_TWO}",
    f"/editor/system-pages/login/audit?format=csv&days={SUPERSCRIPT_TWO}",
    "/editor/system-pages/login/audit?page=" + "9" * 5000,
], ids=["history", "audit-page", "audit-days", "audit-csv", "audit-long-page"])
def test_digits_that_are_not_ascii_are_no_numbers_in_a_query_or_path(
        app, published_bitbucket, url):
    response = published_bitbucket.get(url, status="*")
    assert response.status_int < 500
    assert response.status_int in (200, 400, 404)


@pytest.mark.parametrize("route,field", [
    ("/account/connections", "identity"),
    ("/editor/system-pages/login/settings", "bitbucket.position"),
], ids=["account-identity", "settings-position"])
@pytest.mark.parametrize("value", ["\u00b2", "\u2460", "\u0663", "9" * 5000])
def test_digits_that_are_not_ascii_are_no_numbers_in_a_form(app, published_bitbucket, route,
                                                            field, value):
    editor = published_bitbucket
    before = snapshot(app)
    if route.startswith("/editor"):
        fields = [(k, v) for k, v in settings_form(editor).submit_fields()
                  if k not in ("action", field)]
        body = [*fields, (field, value), ("action", "ok")]
    else:
        body = [("csrf_token", settings_form(editor)["csrf_token"].value), (field, value)]
    response = editor.post(route, body, status="*")
    assert response.status_int == 400
    assert snapshot(app) == before


#: Query pieces: escapes of UTF-8 and of bytes that are none, escapes WebOb reads beyond
#: urllib's ("%+1", "% 1", "%-0"), cut escapes, separators and raw Latin-1.
QUERY_PIECES = st.sampled_from(["%", "%C3", "%A9", "%ff", "%0", "%+1", "% 1", "%-0", "%_1",
                                "&", "=", ";", "+", "a", "\xe9", "%E2%82", "%AC", "%80",
                                "%ED%A0%80", "%F0%9F%98", "%2", "%%", "%C3%"])


@settings(max_examples=500, deadline=None, derandomize=True)
@given(query=st.lists(QUERY_PIECES, max_size=10).map("".join))
def test_the_add_on_reads_a_query_as_text_exactly_when_webob_does(query):
    """The add-on's linear check of a query (cms_social_login.query) refuses exactly the
    queries WebOb cannot decode, and the add-on's read gives WebOb's answer."""
    from cms_social_login.query import decoded_query, is_text

    try:
        expected = list(Request.blank("/", environ={"QUERY_STRING": query}).GET.items())
    except UnicodeDecodeError:
        expected = None
    assert is_text(query) == (expected is not None)
    decoded = decoded_query(Request.blank("/", environ={"QUERY_STRING": query}))
    assert (None if decoded is None else list(decoded.items())) == expected
