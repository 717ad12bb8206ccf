"""Linked identities: a person at a provider is (provider, issuer, the provider's user id)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import ColumnElement, select, update
from sqlalchemy.orm import Session

from ..models import LinkedIdentity
from ..models.records import utcnow
from ..providers.base import Provider
from .login_settings import ProviderConfig
from .published import published_document


def live_issuer(request: Any, provider: Provider) -> str:
    """The issuer of ``provider``'s published tab (see :meth:`Provider.identity_issuer`)."""
    config = ProviderConfig.from_document(published_document(request), provider.name)
    return provider.identity_issuer(config.values)


def _unique_key(site: str, provider_name: str, issuer: str, provider_user_id: str
                ) -> list[ColumnElement[bool]]:
    """The conditions of an identity's unique key (site, provider, issuer, user id)."""
    return [LinkedIdentity.site == site, LinkedIdentity.provider == provider_name,
            LinkedIdentity.issuer == issuer,
            LinkedIdentity.provider_user_id == provider_user_id]


def find_identity(dbsession: Session, site: str, provider_name: str, issuer: str,
                  provider_user_id: str) -> LinkedIdentity | None:
    """The identity of that person on ``site``, through the unique key (site, provider,
    issuer, user id)."""
    return dbsession.scalar(select(LinkedIdentity).where(
        *_unique_key(site, provider_name, issuer, provider_user_id)))


def touch_identity(dbsession: Session, site: str, provider_name: str, issuer: str,
                   provider_user_id: str, *, display_name: str | None, email: str | None,
                   owner: str | None, user_exists: ColumnElement[bool]) -> str | None:
    """A returning login in one ``UPDATE ... RETURNING``: the identity's name, email and
    last login time, found by its unique key, when its account exists (``user_exists``,
    SQL about ``LinkedIdentity.userid``) and, if ``owner`` is given (someone is signed
    in), belongs to ``owner``. Its userid, or None when no such identity was updated."""
    conditions = [*_unique_key(site, provider_name, issuer, provider_user_id), user_exists]
    if owner is not None:
        conditions.append(LinkedIdentity.userid == owner)
    return dbsession.scalar(
        update(LinkedIdentity).where(*conditions)
        .values(display_name=display_name, email=email, last_login_at=utcnow())
        .returning(LinkedIdentity.userid),
        execution_options={"synchronize_session": False})


def linked_providers(dbsession: Session, site: str, userid: str) -> set[str]:
    """The names of the providers linked to the account ``userid`` on ``site`` (a host's
    account may sign in on several sites; its links on the others do not count here)."""
    return set(dbsession.scalars(select(LinkedIdentity.provider).distinct()
                                 .where(LinkedIdentity.site == site,
                                        LinkedIdentity.userid == userid)))
