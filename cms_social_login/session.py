"""The default session, and signed-in sessions that logout really ends.

The session itself is a signed cookie (HttpOnly, SameSite=Lax; over https Secure and
named ``__Host-cms_session``: Path=/, no Domain). Nothing is kept in process memory, so
any process of the site reads it. It is signed with a key derived from the first of the
``cms_social_login.secret_key`` keys and read with any of them (key rotation), and it
stops working ``session_timeout`` seconds after the visitor's last request.

A signed cookie alone cannot be revoked: a copy taken before logout would still work.
So signing in (:func:`sign_in`) also writes a row in ``social_login_sessions`` and puts
its random token in the cookie; every request whose session carries a token checks the
row, and a session whose row is gone (logout, "Log out everywhere") or past its absolute
end (``cms_social_login.session_lifetime`` after sign-in, never extended by activity)
is emptied: the visitor is anonymous again. Anonymous sessions carry no token and never
touch the table; a session that holds a userid (Pyramid's ``SessionAuthenticationHelper``
key) but no token was not signed in through :func:`sign_in` and is emptied too.

A visitor who only looks at the login page gets no session and no cookie at all. The
page's password form then carries a *login form token* (:func:`login_form_token`) instead
of a session's CSRF token: the time it was issued (in steps of 10 minutes, so every
visitor of one step gets the same page) signed with a key derived from the secret key.
It does not identify the browser, so POST /login (:func:`check_login_form`) accepts it
only from the site's own pages: a browser's ``Sec-Fetch-Site`` and ``Origin`` (or, without
``Origin``, ``Referer``) must name this site, so a form on another site cannot sign the
visitor in to an account of its choosing (login CSRF; browsers send ``Origin`` with every
cross-site POST). A visitor who has a session uses its token as before.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import secrets
import time
from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta, timezone
from typing import Any

from pyramid.csrf import check_csrf_origin, check_csrf_token, get_csrf_token
from pyramid.exceptions import BadCSRFToken
from pyramid.interfaces import ISessionFactory
from pyramid.security import forget, remember
from pyramid.session import BaseCookieSessionFactory, JSONSerializer
from sqlalchemy import delete, func, insert, select
from webob.cookies import SignedSerializer
from zope.interface import implementer

from .crypto import derive_key, token_digest
from .models import SignedInSession
from .models.records import as_utc
from .origins import url_origin
from .sites import site_base_url, site_key
from .sweeps import due

COOKIE_NAME = "cms_session"
#: The cookie's name over https: the browser then insists on Secure, Path=/ and no
#: Domain, so a sibling subdomain cannot plant or overwrite it.
SECURE_COOKIE_NAME = "__Host-cms_session"
#: Session key of the signed-in session's token.
TOKEN_KEY = "cms_social_login.signed_in"
#: The cookie's signing salt. Cookies of releases before server-side sessions were
#: signed with Pyramid's ``"pyramid.session."`` and carry no token, so nothing could
#: revoke them: the new salt refuses them (everyone signs in once after the upgrade).
SALT = "cms_social_login.session.revocable."
#: The salt of the releases from migration 0003 (revocable sessions) up to the new salt.
#: Their cookies are still read (never written), so an upgrade keeps those visitors
#: signed in and their logins in flight: what they hold is checked as today's cookies
#: are (a token against the sessions table; a userid without a token is not signed in),
#: so a cookie from before revocable sessions opens nothing either way.
LEGACY_SALT = "pyramid.session."
#: Where Pyramid's ``SessionAuthenticationHelper`` (default prefix) keeps the userid: a
#: session holding one without a token was not signed in by :func:`sign_in`.
HELPER_USERID_KEY = "auth.userid"
#: A login form token is issued per this many seconds (one page for all visitors of a step).
LOGIN_FORM_TOKEN_STEP = 600
#: And works for this long after it was issued (a form left open in a tab).
LOGIN_FORM_TOKEN_LIFETIME = 4 * 3600
#: Each process sweeps ended signed-in sessions at most once per this many seconds.
SWEEP_INTERVAL = 300
_SWEPT_AT_KEY = "cms_social_login.sessions_swept_at"
_LOGIN_FORM_KEYS = "cms_social_login.login_form_keys"
_LOGIN_FORM_TOKEN = "cms_social_login.login_form_token"
#: The most characters of JSON the session's data may take in its cookie: Pyramid refuses
#: (a 500) a cookie value over 4,064 bytes, the base64 of a 64-byte signature and of the
#: JSON of ``[accessed, created, data]``. Whoever keeps something sizeable in the session
#: checks it with :func:`session_json_chars`.
COOKIE_JSON_CHARS = 2900
#: What this module remembers in a process between requests, on the registry (see
#: :func:`cms_social_login.cached_state.forget_cached_state`).
PROCESS_STATE_KEYS = (_SWEPT_AT_KEY, _LOGIN_FORM_KEYS, _LOGIN_FORM_TOKEN)


#: A signed-in session's row, built once (a sign-in binds only its values).
ADD_SESSION = insert(SignedInSession)


def session_json_chars(session: Mapping[str, Any], changes: Mapping[str, Any]) -> int:
    """The characters of JSON the session's data would take in the cookie with ``changes``
    made (as the cookie serializes it)."""
    return len(json.dumps({**session, **changes}, default=str))


def now() -> datetime:
    """The current time from ``time.time()`` (the clock the cookie's timeout uses too)."""
    return datetime.fromtimestamp(time.time(), timezone.utc)



class RotatingSignedSerializer:
    """Signs with the first key, accepts a signature by any of ``keys`` (with
    :data:`SALT`, or the :data:`LEGACY_SALT` of earlier releases)."""

    def __init__(self, keys: Sequence[str]) -> None:
        self._signers = [SignedSerializer(derive_key(key, "session cookie").hex(), salt,
                                          "sha512", serializer=JSONSerializer())
                         for salt in (SALT, LEGACY_SALT) for key in keys]

    def dumps(self, appstruct: Any) -> bytes:
        """The signed cookie value of ``appstruct``."""
        return self._signers[0].dumps(appstruct)

    def loads(self, bstruct: bytes) -> Any:
        """The value of a cookie signed by any key; ValueError when none signed it."""
        for signer in self._signers:
            try:
                return signer.loads(bstruct)
            except ValueError:
                continue
        raise ValueError("invalid signature")


@implementer(ISessionFactory)
class CookieSessionFactory:
    """The signed cookie session, Secure and ``__Host-`` over https, checked against the
    signed-in session table when it carries a token."""

    def __init__(self, secret_keys: Sequence[str] | str, timeout: int) -> None:
        keys = [secret_keys] if isinstance(secret_keys, str) else list(secret_keys)
        options = {
            "serializer": RotatingSignedSerializer(keys), "httponly": True,
            "samesite": "Lax", "timeout": timeout, "reissue_time": max(1, timeout // 10),
        }
        self._plain = BaseCookieSessionFactory(cookie_name=COOKIE_NAME, secure=False,
                                               **options)
        self._secure = BaseCookieSessionFactory(cookie_name=SECURE_COOKIE_NAME, secure=True,
                                                **options)

    def __call__(self, request: Any):
        factory = self._secure if request.scheme == "https" else self._plain
        session = factory(request)
        token = session.get(TOKEN_KEY)
        if token is not None and not _is_live(request, token):
            session.invalidate()  # logged out, or past its absolute end: anonymous now
        elif token is None and HELPER_USERID_KEY in session:
            session.invalidate()  # signed in without a revocable record: not signed in
        return session


def _is_live(request: Any, token: object) -> bool:
    if not isinstance(token, str):
        return False
    record = request.social_login_dbsession.get(SignedInSession, token_digest(token))
    return (record is not None and record.site == site_key(request)
            and as_utc(record.expires_at) > now())


def _sweep_if_due(request: Any, moment: datetime) -> None:
    """Delete the ended sessions when this process has not done so for SWEEP_INTERVAL
    (an ended row is refused when read, so sweeping is only housekeeping)."""
    if not due(request.registry, _SWEPT_AT_KEY, SWEEP_INTERVAL, moment.timestamp()):
        return
    request.social_login_dbsession.execute(
        delete(SignedInSession).where(SignedInSession.expires_at < moment))


def sign_in(request: Any, userid: str) -> list[tuple[str, str]]:
    """Sign ``userid`` in: a new session (nothing planted before survives), a row that
    logout can delete, and the security policy's ``remember`` headers.

    A host that signs people in with its own form calls this instead of ``remember``.
    Ended rows are swept here, by each process at most once per :data:`SWEEP_INTERVAL`.
    """
    lifetime = request.registry.social_login_settings.session_lifetime
    dbsession = request.social_login_dbsession
    moment = now()
    _sweep_if_due(request, moment)
    token = secrets.token_urlsafe(32)
    dbsession.execute(ADD_SESSION, {
        "token_hash": token_digest(token), "site": site_key(request), "userid": userid,
        "created_at": moment, "expires_at": moment + timedelta(seconds=lifetime)})
    request.session.invalidate()
    request.session[TOKEN_KEY] = token
    return list(remember(request, userid))


def sign_out(request: Any, everywhere: bool = False) -> list[tuple[str, str]]:
    """End this browser's signed-in session (``everywhere``: every session of the user)
    on the server, drop the session cookie, and return the ``forget`` headers."""
    dbsession = request.social_login_dbsession
    userid = request.authenticated_userid
    token = request.session.get(TOKEN_KEY)
    if everywhere and userid is not None:
        dbsession.execute(delete(SignedInSession).where(
            SignedInSession.site == site_key(request), SignedInSession.userid == userid))
    elif isinstance(token, str):
        dbsession.execute(delete(SignedInSession).where(
            SignedInSession.token_hash == token_digest(token)))
    headers = list(forget(request))
    request.session.invalidate()
    return headers


def live_sessions(request: Any, userid: str) -> int:
    """How many signed-in sessions ``userid`` has that have not ended."""
    return request.social_login_dbsession.scalar(
        select(func.count()).select_from(SignedInSession).where(
            SignedInSession.site == site_key(request), SignedInSession.userid == userid,
            SignedInSession.expires_at > now())) or 0


def has_session(request: Any) -> bool:
    """Whether the visitor has a session: sent as a cookie, or given one (something was
    stored in it) during this request. Reading an empty new session does not count."""
    session = request.__dict__.get("session")
    if session is not None and (not session.new or len(session)):
        return True
    if "HTTP_COOKIE" not in request.environ:
        return False
    return COOKIE_NAME in request.cookies or SECURE_COOKIE_NAME in request.cookies


def _login_form_keys(request: Any) -> list[bytes]:
    keys = request.registry.get(_LOGIN_FORM_KEYS)
    if keys is None:
        keys = [derive_key(key, "login form token")
                for key in request.registry.social_login_settings.secret_keys]
        request.registry[_LOGIN_FORM_KEYS] = keys
    return keys


def _sign_issued(key: bytes, issued: int) -> str:
    mac = hmac.new(key, f"login form {issued}".encode(), hashlib.sha256).hexdigest()
    return f"{issued}.{mac[:32]}"


def login_form_token(request: Any) -> str:
    """The CSRF token of the password form: the session's when the visitor has a session,
    else a login form token (no session is made)."""
    if has_session(request):
        return get_csrf_token(request)
    issued = int(time.time()) // LOGIN_FORM_TOKEN_STEP * LOGIN_FORM_TOKEN_STEP
    memo = request.registry.get(_LOGIN_FORM_TOKEN)
    if memo is None or memo[0] != issued:
        memo = (issued, _sign_issued(_login_form_keys(request)[0], issued))
        request.registry[_LOGIN_FORM_TOKEN] = memo
    return memo[1]


def _is_login_form_token(request: Any, token: str) -> bool:
    issued_text, _, _mac = token.partition(".")
    if not (issued_text.isascii() and issued_text.isdigit()) or len(issued_text) > 12:
        return False
    issued = int(issued_text)
    if not 0 <= time.time() - issued <= LOGIN_FORM_TOKEN_LIFETIME:
        return False
    return any(hmac.compare_digest(_sign_issued(key, issued), token)
               for key in _login_form_keys(request))


def _from_this_site(request: Any) -> bool:
    """Whether a browser says the request comes from one of this site's pages (a client
    that is not a browser sends none of these headers and cannot carry a visitor's
    login anyway)."""
    fetch_site = request.headers.get("Sec-Fetch-Site")
    if fetch_site is not None and fetch_site not in ("same-origin", "none"):
        return False
    site_url = site_base_url(request)
    own = {url_origin(request.host_url)} | ({url_origin(site_url)} if site_url else set())
    origin = request.headers.get("Origin")
    if origin is not None:
        return url_origin(origin) in own
    referer = request.headers.get("Referer")
    return referer is None or url_origin(referer) in own


def check_login_form(request: Any) -> None:
    """The CSRF check of POST /login: the session's token, or a login form token sent from
    this site's own page; BadCSRFToken (400) otherwise."""
    check_csrf_origin(request)  # over https, as Pyramid's own check does
    token = request.POST.get("csrf_token", "")
    if has_session(request) and check_csrf_token(request, raises=False):
        return
    if isinstance(token, str) and _is_login_form_token(request, token) \
            and _from_this_site(request):
        return
    raise BadCSRFToken()
