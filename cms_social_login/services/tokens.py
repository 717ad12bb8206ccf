"""Stored provider tokens: kept at login, offered fresh to site code.

Off by default. With ``cms_social_login.store_tokens = true`` every successful login
stores the provider's access and refresh token, encrypted with the site's
:class:`~cms_social_login.interfaces.ISecretBox`, for the linked identity
(:class:`~cms_social_login.models.StoredToken`, one row per identity, replaced at each
login). Site code then asks::

    token = request.social_token("bitbucket")   # str, or None: ask the user to log in again

and gets the signed-in user's access token, refreshed first when it has expired (or
expires within :data:`EXPIRY_MARGIN` seconds).

Refreshing is careful because Bitbucket rotates the refresh token on every use: the
old one stops working the moment the new one is issued, so losing the answer loses the
authorization. Therefore a refresh

* runs in its own short database transaction, committed as soon as the new tokens are
  stored, whatever the request does afterwards;
* holds the token's row lock while it calls the provider (``SELECT ... FOR UPDATE`` on
  PostgreSQL; SQLite's write lock on SQLite), so two processes never spend the same
  refresh token: the second one waits, then finds the first one's fresh token and uses
  it;
* writes through the row's version column: a write based on a stale read fails with
  ``StaleDataError``, and the process reloads and uses the other process's token.

A refresh token the provider refuses (``invalid_grant``: expired, revoked, already
used) deletes the stored token, and ``social_token`` returns None. Tokens are never
logged.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session
from sqlalchemy.orm.exc import StaleDataError

from ..crypto import SecretDecryptionError
from ..events import SocialLoginSucceeded
from ..interfaces import ISecretBox
from ..logs import loggable
from ..models import LinkedIdentity, StoredToken, session_factory_for
from ..models.records import as_utc, utcnow
from ..providers.errors import ProviderError, RefreshTokenRejected
from ..providers.registry import get_provider_registry
from ..sites import site_key
from .db import flush_or_retry
from .identities import find_identity, live_issuer
from .login_settings import ProviderConfig
from .published import published_document

__all__ = ["EXPIRY_MARGIN", "TokenKeeper", "social_token", "store_login_tokens"]

log = logging.getLogger(__name__)

#: A token that expires within this many seconds is refreshed before it is handed out.
EXPIRY_MARGIN = 60
#: Longest ``scopes`` kept (the column's size).
MAX_SCOPES_LENGTH = 255


def _expires_at(expires_in: object) -> datetime | None:
    """When a token with ``expires_in`` seconds to live expires (None: not said)."""
    try:
        seconds = int(expires_in)  # type: ignore[call-overload]
    except (TypeError, ValueError):
        return None
    return utcnow() + timedelta(seconds=seconds) if seconds > 0 else None


def _scopes(value: object) -> str | None:
    if isinstance(value, (list, tuple)):
        value = " ".join(str(v) for v in value)
    return str(value)[:MAX_SCOPES_LENGTH] if value else None


def _fill(row: StoredToken, box: ISecretBox, access_token: str, refresh_token: object,
          expires_in: object, scopes: object, keep_refresh: bool) -> None:
    """Put a token answer into ``row`` (encrypted). ``keep_refresh``: an answer without a
    refresh token keeps the stored one (providers that do not rotate)."""
    row.access_token = box.encrypt(access_token)
    if isinstance(refresh_token, str) and refresh_token:
        row.refresh_token = box.encrypt(refresh_token)
    elif not keep_refresh:
        row.refresh_token = None
    row.expires_at = _expires_at(expires_in)
    row.scopes = _scopes(scopes) or (row.scopes if keep_refresh else None)
    row.updated_at = utcnow()


def is_fresh(expires_at: datetime | None, margin: int = EXPIRY_MARGIN) -> bool:
    """Whether a token expiring at ``expires_at`` (None: never said) is still usable."""
    return expires_at is None or as_utc(expires_at) - timedelta(seconds=margin) > utcnow()


def store_login_tokens(event: SocialLoginSucceeded) -> None:
    """Subscriber of :class:`SocialLoginSucceeded`: store the login's tokens (encrypted)
    for its linked identity, when ``cms_social_login.store_tokens`` is on.

    It writes in the login's own transaction (the identity may be new in it): a login
    that fails later stores nothing.
    """
    request = event.request
    if not request.registry.social_login_settings.store_tokens:
        return
    credentials = getattr(event.result, "credentials", None) or {}
    access_token = credentials.get("oauthAccessToken")
    if not isinstance(access_token, str) or not access_token:
        return
    dbsession: Session = request.social_login_dbsession
    identity_id = getattr(event, "identity_id", None) or _identity_id(
        request, event.provider_name, event.result)
    if identity_id is None:
        log.warning("token not stored: no linked identity found for provider=%s",
                    loggable(event.provider_name, 64))
        return
    box: ISecretBox = request.registry.getUtility(ISecretBox)
    row = dbsession.get(StoredToken, identity_id)
    if row is None:
        row = StoredToken(identity_id=identity_id)
        dbsession.add(row)
    _fill(row, box, access_token, credentials.get("oauthRefreshToken"),
          credentials.get("oauthExpiresIn"), credentials.get("scopes"), keep_refresh=False)
    flush_or_retry(dbsession)


def _identity_id(request: Any, provider_name: str, result: Any) -> int | None:
    """The id of the identity of ``result``'s provider account (flushed at login)."""
    provider = get_provider_registry(request.registry).get(provider_name)
    try:
        provider_user_id = str(result.profile["accounts"][0]["userid"])
    except (AttributeError, KeyError, IndexError, TypeError):
        return None
    if provider is None:
        return None
    identity = find_identity(request.social_login_dbsession, site_key(request), provider_name,
                             live_issuer(request, provider), provider_user_id)
    return identity.id if identity is not None else None


class TokenKeeper:
    """Hands out a user's stored access token for a provider, refreshing it when needed.

    ``request`` supplies the registry (settings, secret box, providers), the published
    settings (the client id and secret used to refresh) and ``request.social_login_dbsession`` for
    reading; refreshes write through their own sessions of the site's session factory.
    """

    def __init__(self, request: Any) -> None:
        self.request = request
        self.registry = request.registry
        self.box: ISecretBox = self.registry.getUtility(ISecretBox)
        self.session_factory = session_factory_for(request)

    def access_token(self, userid: str, provider_name: str, force_refresh: bool = False
                     ) -> str | None:
        """The access token of ``userid``'s latest-used ``provider_name`` identity that has
        a stored token, refreshed when expired (always, with ``force_refresh``).

        None when there is none, it cannot be refreshed (refused refresh token: the stored
        token is deleted), or the provider cannot be reached right now (logged).
        """
        provider = get_provider_registry(self.registry).get(provider_name)
        if provider is None:
            return None
        # Only the live server's token: another server's never meets the new one.
        row = self.request.social_login_dbsession.execute(
            select(StoredToken.identity_id, StoredToken.access_token, StoredToken.expires_at,
                   StoredToken.version)
            .join(LinkedIdentity, LinkedIdentity.id == StoredToken.identity_id)
            .where(LinkedIdentity.site == site_key(self.request),
                   LinkedIdentity.userid == str(userid),
                   LinkedIdentity.provider == provider_name,
                   LinkedIdentity.issuer == live_issuer(self.request, provider))
            .order_by(LinkedIdentity.last_login_at.desc(), LinkedIdentity.id.desc())
            .limit(1)).first()
        if row is None:
            return None
        if not force_refresh and is_fresh(row.expires_at):
            return self._decrypt(row.identity_id, row.access_token)
        return self.refresh(row.identity_id, provider_name, seen_version=row.version,
                            force=force_refresh)

    def refresh(self, identity_id: int, provider_name: str, seen_version: int | None = None,
                force: bool = False) -> str | None:
        """Refresh the stored token of identity ``identity_id``; the new access token.

        ``seen_version`` is the row version the caller judged stale: a row that moved on
        since (another process refreshed) is used as it is when fresh.
        """
        values = self._client_values(provider_name)
        if values is None:
            return None
        provider = get_provider_registry(self.registry).get(provider_name)
        with self.session_factory() as db:
            try:
                with db.begin():
                    return self._refresh_locked(db, provider, values, identity_id,
                                                seen_version, force)
            except StaleDataError:
                # Another process wrote the row after we read it: theirs is the newest.
                log.info("token refresh lost a race: provider=%s identity=%s; using the "
                         "other process's token", provider_name[:64], identity_id)
            with db.begin():
                row = db.get(StoredToken, identity_id, populate_existing=True)
                if row is None or not is_fresh(row.expires_at, margin=0):
                    return None
                return self._decrypt(identity_id, row.access_token)

    def _refresh_locked(self, db: Session, provider: Any, values: Mapping[str, str],
                        identity_id: int, seen_version: int | None, force: bool
                        ) -> str | None:
        row = self._lock(db, identity_id)
        if row is None:  # deleted meanwhile (refused elsewhere, or the identity went)
            return None
        moved_on = seen_version is not None and row.version != seen_version
        if (moved_on or not force) and is_fresh(row.expires_at):
            return self._decrypt(identity_id, row.access_token)
        try:
            refresh_token = self.box.decrypt(row.refresh_token) if row.refresh_token else None
        except SecretDecryptionError:
            refresh_token = None
        if refresh_token is None:
            log.info("stored token dropped: provider=%s identity=%s has no usable refresh "
                     "token", provider.name, identity_id)
            db.delete(row)
            return None
        try:
            answer = provider.refresh(values, refresh_token)
        except RefreshTokenRejected as exc:
            log.info("stored token deleted: provider=%s identity=%s: %s", provider.name,
                     identity_id, loggable(exc.cause))
            db.delete(row)
            return None
        except ProviderError as exc:
            log.warning("token refresh failed: provider=%s identity=%s: %s", provider.name,
                        identity_id, loggable(exc.cause))
            return None
        access_token = answer["access_token"]
        _fill(row, self.box, access_token, answer.get("refresh_token"),
              answer.get("expires_in"), answer.get("scopes") or answer.get("scope"),
              keep_refresh=True)
        db.flush()  # UPDATE ... WHERE version = the locked one (StaleDataError if not)
        return access_token

    def _lock(self, db: Session, identity_id: int) -> StoredToken | None:
        """The row of ``identity_id``, locked against other refreshes until the commit."""
        if db.get_bind().dialect.name == "sqlite":
            # No row locks in SQLite: a write takes the database's write lock, which
            # then serializes refreshes (other writers wait up to the busy timeout).
            table = StoredToken.__table__
            db.execute(update(table).where(table.c.identity_id == identity_id)
                       .values(version=table.c.version))
        return db.scalars(
            select(StoredToken).where(StoredToken.identity_id == identity_id)
            .with_for_update()
            .execution_options(populate_existing=True)).first()

    def _client_values(self, provider_name: str) -> dict[str, str] | None:
        """The published client id and secret of ``provider_name``, or None (logged)."""
        provider = get_provider_registry(self.registry).get(provider_name)
        if provider is None or not provider.can_refresh:
            log.warning("token refresh impossible: provider=%s is not installed or cannot "
                        "refresh", loggable(provider_name, 64))
            return None
        config = ProviderConfig.from_document(published_document(self.request), provider_name)
        if not config.is_complete(provider):
            log.warning("token refresh impossible: provider=%s has no published client id "
                        "and secret", loggable(provider_name, 64))
            return None
        try:
            return config.plain_values(provider, self.box)
        except SecretDecryptionError:
            log.warning("token refresh impossible: the published secret of provider=%s "
                        "cannot be decrypted with the current secret key",
                        loggable(provider_name, 64))
            return None

    def _decrypt(self, identity_id: int, token: str) -> str | None:
        try:
            return self.box.decrypt(token)
        except SecretDecryptionError:
            log.warning("stored token of identity=%s cannot be decrypted with the current "
                        "secret key", identity_id)
            return None


def social_token(request: Any, provider_name: str, force_refresh: bool = False
                 ) -> str | None:
    """``request.social_token(provider_name)``: the signed-in user's access token there.

    Refreshed first when it has expired; ``force_refresh=True`` refreshes it anyway (after
    the provider answered 401 to it, say). None when nobody is signed in, tokens are not
    stored (``cms_social_login.store_tokens`` off), the user has no stored token for the
    provider, or it cannot be refreshed: then send the user through "Log in with ..."
    again, which stores a new one.
    """
    if not request.registry.social_login_settings.store_tokens:
        return None
    userid = request.authenticated_userid
    if userid is None:
        return None
    return TokenKeeper(request).access_token(userid, provider_name, force_refresh)
