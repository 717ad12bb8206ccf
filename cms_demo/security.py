"""The demo's security policy: the user id in the session; editors may edit."""

from __future__ import annotations

from typing import Any

from pyramid.authentication import SessionAuthenticationHelper
from pyramid.config import Configurator
from pyramid.security import Allowed, Denied

from .models import User, is_editor_of, user_of


class DemoSecurityPolicy:
    """Session-based identity; the editor permission is granted to the editors of the
    request's site (``request.social_login_site``) only."""

    def __init__(self, editor_permission: str) -> None:
        self.helper = SessionAuthenticationHelper()
        self.editor_permission = editor_permission

    def identity(self, request: Any) -> User | None:
        userid = self.helper.authenticated_userid(request)
        if userid is None:  # an anonymous visitor: no database session is made
            return None
        return user_of(request.dbsession, userid)

    def authenticated_userid(self, request: Any) -> str | None:
        user = request.identity
        return str(user.id) if user is not None else None

    def permits(self, request: Any, context: Any, permission: str):
        user = request.identity
        if permission != self.editor_permission or user is None:
            return Denied("not an editor")
        site = request.social_login_site.key
        if is_editor_of(request.dbsession, user, site):
            return Allowed(f"editor of {site}")
        return Denied(f"not an editor of {site}")

    def remember(self, request: Any, userid: str, **kw: Any) -> list:
        return self.helper.remember(request, userid, **kw)

    def forget(self, request: Any, **kw: Any) -> list:
        return self.helper.forget(request, **kw)


def includeme(config: Configurator) -> None:
    """Install the policy."""
    permission = config.registry.social_login_settings.editor_permission
    config.set_security_policy(DemoSecurityPolicy(permission))
