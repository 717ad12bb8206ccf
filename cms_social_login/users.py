"""Local users: what the add-on needs of the host's accounts, and a default adapter."""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from zope.interface import implementer

from .interfaces import IUserAdapter
from .models import LinkedIdentity
from .sites import site_key


@dataclass(frozen=True)
class SiteUser:
    """A local account as the add-on shows it."""

    userid: str
    display_name: str
    username: str | None = None
    email: str | None = None


@implementer(IUserAdapter)
class IdentityUserAdapter:
    """The default adapter, for sites without accounts of their own.

    The account is made by its first linked identity: its userid is
    ``<provider>:<random>`` and stays the userid of every identity linked to it later.
    The account exists as long as one of its identities does, so disconnecting the first
    one leaves the others working. There is no password login. Sites with their own users
    register their adapter with ``config.set_social_login_user_adapter(...)``.
    """

    password_login = False

    def get_user(self, request: Any, userid: str) -> SiteUser | None:
        identity = request.social_login_dbsession.scalar(
            select(LinkedIdentity).where(LinkedIdentity.site == site_key(request),
                                         LinkedIdentity.userid == userid)
            .order_by(LinkedIdentity.last_login_at.desc(), LinkedIdentity.id).limit(1))
        if identity is None:
            return None
        return SiteUser(userid=userid, display_name=identity.display_name or userid,
                        email=identity.email)

    def create_user(self, request: Any, profile: dict[str, Any], provider_name: str) -> str:
        # Random, not the provider's user id: the same id at another issuer (another
        # OpenID Connect issuer, another GitLab server) is another person.
        return f"{provider_name}:{secrets.token_urlsafe(18)}"

    def authenticate(self, request: Any, login: str, password: str) -> str | None:
        return None

    def find_user_by_email(self, request: Any, email: str) -> str | None:
        return None

    def has_password(self, request: Any, userid: str) -> bool:
        return False
