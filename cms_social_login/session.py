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
touch the table.
"""

from __future__ import annotations

import hashlib
import secrets
import time
from collections.abc import Sequence
from datetime import datetime, timedelta, timezone
from typing import Any

from pyramid.interfaces import ISessionFactory
from pyramid.security import forget, remember
from pyramid.session import BaseCookieSessionFactory, JSONSerializer
from sqlalchemy import delete, func, select
from webob.cookies import SignedSerializer
from zope.interface import implementer

from .crypto import derive_key
from .models import SignedInSession
from .sites import site_key

COOKIE_NAME = "cms_session"
#: The cookie's name over https: the browser then insists on Secure, Path=/ and no
#: Domain, so a sibling subdomain cannot plant or overwrite it.
SECURE_COOKIE_NAME = "__Host-cms_session"
#: Session key of the signed-in session's token.
TOKEN_KEY = "cms_social_login.signed_in"
#: The salt Pyramid's ``SignedCookieSessionFactory`` uses (cookies made before key
#: rotation keep working).
SALT = "pyramid.session."


def now() -> datetime:
    """The current time from ``time.time()`` (the clock the cookie's timeout uses too)."""
    return datetime.fromtimestamp(time.time(), timezone.utc)


def _aware(moment: datetime) -> datetime:
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=timezone.utc)


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


class RotatingSignedSerializer:
    """Signs with the first key, accepts a signature by any of ``keys``."""

    def __init__(self, keys: Sequence[str]) -> None:
        self._signers = [SignedSerializer(derive_key(key, "session cookie").hex(), SALT,
                                          "sha512", serializer=JSONSerializer())
                         for key in keys]

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
        return session


def _is_live(request: Any, token: object) -> bool:
    if not isinstance(token, str):
        return False
    record = request.social_login_dbsession.get(SignedInSession, _digest(token))
    return (record is not None and record.site == site_key(request)
            and _aware(record.expires_at) > now())


def sign_in(request: Any, userid: str) -> list[tuple[str, str]]:
    """Sign ``userid`` in: a new session (nothing planted before survives), a row that
    logout can delete, and the security policy's ``remember`` headers.

    A host that signs people in with its own form calls this instead of ``remember``.
    Expired rows are swept here.
    """
    lifetime = request.registry.social_login_settings.session_lifetime
    dbsession = request.social_login_dbsession
    moment = now()
    dbsession.execute(delete(SignedInSession).where(SignedInSession.expires_at < moment))
    token = secrets.token_urlsafe(32)
    dbsession.add(SignedInSession(token_hash=_digest(token), site=site_key(request),
                                  userid=userid, created_at=moment,
                                  expires_at=moment + timedelta(seconds=lifetime)))
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
            SignedInSession.token_hash == _digest(token)))
    headers = list(forget(request))
    request.session.invalidate()
    return headers


def live_sessions(request: Any, userid: str) -> int:
    """How many signed-in sessions ``userid`` has that have not ended."""
    return request.social_login_dbsession.scalar(
        select(func.count()).select_from(SignedInSession).where(
            SignedInSession.site == site_key(request), SignedInSession.userid == userid,
            SignedInSession.expires_at > now())) or 0
