"""Local users: what the add-on needs of the host's accounts, and a default adapter."""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from typing import Any

from sqlalchemy import ColumnElement, select, true
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
class UserAdapterBase:
    """The optional parts of ``IUserAdapter`` with their defaults; subclass it and write
    ``get_user`` and ``create_user`` (and, for a password form, ``authenticate``).

    - ``password_login = False``: ``/login`` shows no username and password form;
    - ``authenticate(...)`` -> None: nobody signs in with a password;
    - ``has_password(...)`` -> False: no account can sign in without a provider, so its
      last linked provider cannot be disconnected;
    - ``find_user_by_email(...)`` -> None: no account is found by its email address;
    - ``password_page_url(...)`` -> None: the site has no page where a user sets a password,
      so the connected-accounts page never suggests setting one;
    - ``user_exists_clause(...)`` -> None: whether an account exists is asked of
      ``get_user``, one more statement on every returning user's login.
    """

    password_login = False

    def get_user(self, request: Any, userid: str) -> SiteUser | None:
        raise NotImplementedError

    def create_user(self, request: Any, profile: dict[str, Any], provider_name: str) -> str:
        raise NotImplementedError

    def authenticate(self, request: Any, login: str, password: str) -> str | None:
        return None

    def find_user_by_email(self, request: Any, email: str) -> str | None:
        return None

    def has_password(self, request: Any, userid: str) -> bool:
        return False

    def password_page_url(self, request: Any, userid: str) -> str | None:
        return None

    def user_exists_clause(self, userid: ColumnElement[str]) -> ColumnElement[bool] | None:
        return None


def _optional(adapter: Any, name: str) -> Any:
    """The adapter's optional method ``name``, or the default of ``UserAdapterBase``: an
    adapter written against ``IUserAdapter`` alone may leave the optional methods out."""
    method = getattr(adapter, name, None)
    return method if method is not None else getattr(UserAdapterBase(), name)


def has_password(request: Any, userid: str) -> bool:
    """Whether ``userid`` can sign in with a password on this site (not only by a provider)."""
    adapter = request.registry.getUtility(IUserAdapter)
    return bool(adapter.password_login and _optional(adapter, "has_password")(request, userid))


def password_page_url(request: Any, userid: str) -> str | None:
    """Where ``userid`` sets a password on this site, or None when the site has no such page."""
    adapter = request.registry.getUtility(IUserAdapter)
    if not adapter.password_login:
        return None
    return _optional(adapter, "password_page_url")(request, userid)


def user_exists_clause(adapter: Any, userid: ColumnElement[str]
                       ) -> ColumnElement[bool] | None:
    """The adapter's SQL test that the account ``userid`` (a column) exists, or None."""
    return _optional(adapter, "user_exists_clause")(userid)


class IdentityUserAdapter(UserAdapterBase):
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

    def user_exists_clause(self, userid: ColumnElement[str]) -> ColumnElement[bool]:
        # The account exists as long as one of its identities does: the one at hand.
        return true()

    def create_user(self, request: Any, profile: dict[str, Any], provider_name: str) -> str:
        # Random, not the provider's user id: the same id at another issuer (another
        # OpenID Connect issuer, another GitLab server) is another person.
        return f"{provider_name}:{secrets.token_urlsafe(18)}"
