"""The default session: a signed cookie, HttpOnly, SameSite=Lax, Secure over https."""

from __future__ import annotations

from typing import Any

from pyramid.interfaces import ISessionFactory
from pyramid.session import JSONSerializer, SignedCookieSessionFactory
from zope.interface import implementer

from .crypto import derive_key

COOKIE_NAME = "cms_session"


@implementer(ISessionFactory)
class CookieSessionFactory:
    """Pyramid's signed cookie session, with the Secure flag set per request.

    Nothing is kept in process memory, so any process of the site reads the session;
    the cookie is signed with a key derived from ``cms_social_login.secret_key`` and
    stops working ``timeout`` seconds after the visitor's last request.
    """

    def __init__(self, secret_key: str, timeout: int) -> None:
        options = {
            "cookie_name": COOKIE_NAME, "httponly": True, "samesite": "Lax",
            "serializer": JSONSerializer(), "timeout": timeout,
            "reissue_time": max(1, timeout // 10),
        }
        secret = derive_key(secret_key, "session cookie").hex()
        self._plain = SignedCookieSessionFactory(secret, secure=False, **options)
        self._secure = SignedCookieSessionFactory(secret, secure=True, **options)

    def __call__(self, request: Any):
        factory = self._secure if request.scheme == "https" else self._plain
        return factory(request)
