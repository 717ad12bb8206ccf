"""Linked identities: a person at a provider is (provider, issuer, the provider's user id)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import ColumnElement, Update, bindparam, select, update
from sqlalchemy.orm import Session

from ..interfaces import IUserAdapter
from ..models import LinkedIdentity
from ..models.records import utcnow
from ..providers.base import Provider
from ..sites import site_key
from ..users import user_exists_clause
from .login_settings import ProviderConfig
from .published import published_document


def live_issuer(request: Any, provider: Provider) -> str:
    """The issuer of ``provider``'s published tab (see :meth:`Provider.identity_issuer`)."""
    config = ProviderConfig.from_document(published_document(request), provider.name)
    return provider.identity_issuer(config.values)


def _unique_key(site: Any, provider_name: Any, issuer: Any, provider_user_id: Any
                ) -> list[ColumnElement[bool]]:
    """The conditions of an identity's unique key (site, provider, issuer, user id): values,
    or bind parameters of a statement built once."""
    return [LinkedIdentity.site == site, LinkedIdentity.provider == provider_name,
            LinkedIdentity.issuer == issuer,
            LinkedIdentity.provider_user_id == provider_user_id]


def find_identity(dbsession: Session, site: str, provider_name: str, issuer: str,
                  provider_user_id: str) -> LinkedIdentity | None:
    """The identity of that person on ``site``, through the unique key (site, provider,
    issuer, user id)."""
    return dbsession.scalar(select(LinkedIdentity).where(
        *_unique_key(site, provider_name, issuer, provider_user_id)))


#: Where a process keeps the statements of a returning login (see :func:`touch_identity`).
_TOUCH_STATEMENTS_KEY = "cms_social_login.touch_identity_statements"
#: What this module remembers in a process between requests, on the registry (see
#: :func:`cms_social_login.cached_state.forget_cached_state`).
PROCESS_STATE_KEYS = (_TOUCH_STATEMENTS_KEY,)


def _touch_statement(user_exists: ColumnElement[bool], owned: bool) -> Update:
    conditions = [*_unique_key(*(bindparam(f"key_{name}") for name in (
        "site", "provider", "issuer", "provider_user_id"))), user_exists]
    if owned:
        conditions.append(LinkedIdentity.userid == bindparam("key_owner"))
    return (update(LinkedIdentity).where(*conditions)
            .values(display_name=bindparam("new_display_name"),
                    email=bindparam("new_email"),
                    last_login_at=bindparam("new_last_login_at"))
            .returning(LinkedIdentity.userid))


def _touch_statements(request: Any) -> dict[bool, Update]:
    """The returning login's UPDATE without and with an owner, built once per process
    (building and keying a statement costs more than running it on a local database);
    empty when the user adapter cannot tell in SQL that an account exists."""
    statements = request.registry.get(_TOUCH_STATEMENTS_KEY)
    if statements is None:
        adapter = request.registry.getUtility(IUserAdapter)
        exists = user_exists_clause(adapter, LinkedIdentity.userid)
        statements = {} if exists is None else {
            owned: _touch_statement(exists, owned) for owned in (False, True)}
        request.registry[_TOUCH_STATEMENTS_KEY] = statements
    return statements


def can_touch_identity(request: Any) -> bool:
    """Whether :func:`touch_identity` can tell a returning login in one statement (the
    user adapter checks its accounts in SQL)."""
    return bool(_touch_statements(request))


def touch_identity(request: Any, provider_name: str, issuer: str, provider_user_id: str,
                   *, display_name: str | None, email: str | None,
                   owner: str | None) -> str | None:
    """A returning login in one ``UPDATE ... RETURNING``: the identity's name, email and
    last login time, found by its unique key on the request's site, when its account
    exists (the user adapter's ``user_exists_clause``) and, if ``owner`` is given
    (someone is signed in), belongs to ``owner``. Its userid, or None when no such
    identity was updated (or :func:`can_touch_identity` is False)."""
    statement = _touch_statements(request).get(owner is not None)
    if statement is None:
        return None
    return request.social_login_dbsession.scalar(statement, {
        "key_site": site_key(request), "key_provider": provider_name, "key_issuer": issuer,
        "key_provider_user_id": provider_user_id, "key_owner": owner,
        "new_display_name": display_name, "new_email": email,
        "new_last_login_at": utcnow()}, execution_options={"synchronize_session": False})


def linked_providers(dbsession: Session, site: str, userid: str) -> set[str]:
    """The names of the providers linked to the account ``userid`` on ``site`` (a host's
    account may sign in on several sites; its links on the others do not count here)."""
    return set(dbsession.scalars(select(LinkedIdentity.provider).distinct()
                                 .where(LinkedIdentity.site == site,
                                        LinkedIdentity.userid == userid)))
