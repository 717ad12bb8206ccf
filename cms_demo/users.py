"""The demo's user adapter: password login for its accounts, accounts made on first SSO."""

from __future__ import annotations

import re
from typing import Any

from sqlalchemy import ColumnElement, Integer, case, cast, exists, func, select

from cms_social_login.users import SiteUser, UserAdapterBase

from .models import User, user_of


class DemoUserAdapter(UserAdapterBase):
    """Accounts live in the demo's ``demo_users`` table (no page to set a password)."""

    password_login = True

    def get_user(self, request: Any, userid: str) -> SiteUser | None:
        user = user_of(request.dbsession, userid)
        if user is None:
            return None
        return SiteUser(userid=str(user.id), display_name=user.display_name,
                        username=user.username, email=user.email)

    def user_exists_clause(self, userid: ColumnElement[str]) -> ColumnElement[bool]:
        # A userid that is not a number of at most 9 digits is nobody's (PostgreSQL's cast
        # to integer would fail on it).
        number = case((userid.regexp_match("^[0-9]{1,9}$"), cast(userid, Integer)))
        return exists().where(User.id == number)

    def create_user(self, request: Any, profile: dict[str, Any], provider_name: str) -> str:
        email = profile.get("verifiedEmail")
        base = profile.get("preferredUsername") or (email or "").split("@")[0] or provider_name
        user = User(username=self._unique_username(request, base),
                    display_name=(profile.get("displayName") or base)[:255], email=email)
        request.dbsession.add(user)
        request.dbsession.flush()
        return str(user.id)

    def authenticate(self, request: Any, login: str, password: str) -> str | None:
        user = request.dbsession.scalar(select(User).where(User.username == login))
        if user is None or not user.check_password(password):
            return None
        return str(user.id)

    def has_password(self, request: Any, userid: str) -> bool:
        user = user_of(request.dbsession, userid)
        return bool(user and user.password_hash)

    def find_user_by_email(self, request: Any, email: str) -> str | None:
        # The demo only stores confirmed addresses (from providers, or set by hand).
        user = request.dbsession.scalar(
            select(User).where(func.lower(User.email) == email.lower()).limit(1))
        return str(user.id) if user is not None else None

    @staticmethod
    def _unique_username(request: Any, wanted: str) -> str:
        base = re.sub(r"[^a-z0-9_.-]+", "-", wanted.lower()).strip("-.")[:48] or "user"
        taken = set(request.dbsession.scalars(
            select(User.username).where(User.username.like(f"{base}%"))))
        candidate, number = base, 1
        while candidate in taken:
            number += 1
            candidate = f"{base}-{number}"
        return candidate
