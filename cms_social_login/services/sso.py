"""Single sign-on: start at a provider, come back, become a local user."""

from __future__ import annotations

import hmac
import logging
import re
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import and_, bindparam, delete, insert, or_, select
from velruse import AuthenticationComplete

from ..crypto import SecretDecryptionError, token_digest
from ..events import SocialLoginFailed, SocialLoginSucceeded
from ..i18n import _
from ..interfaces import ISecretBox, IUserAdapter
from ..logs import loggable
from ..models import LinkedIdentity, LoginState
from ..models.records import as_utc, utcnow
from ..providers.base import LoginContext, Provider
from ..providers.errors import ProviderError
from ..providers.registry import get_provider_registry
from ..redirects import safe_came_from, site_route_url
from ..session import sign_in
from ..sites import site_key
from ..users import user_exists_clause
from .db import flush_or_retry, retry_lost_races
from .identities import find_identity, touch_identity
from .login_settings import ProviderConfig
from .provider_sessions import remember_provider_login
from .published import published_document

log = logging.getLogger(__name__)

#: Session key of the random value that binds a login's state to this browser.
BINDING_KEY = "cms_social_login.binding"
#: Environ key that keeps a provider's answer across pyramid_retry attempts (the
#: provider's code is single-use, so a retried request must not ask again).
RESULT_CACHE_KEY = "cms_social_login.result"
#: The most expired states one login start deletes (the sweep stays cheap after a flood).
SWEEP_BATCH = 100
#: What an error code from a provider looks like (RFC 6749 4.1.2.1: ``access_denied``...).
#: Any other ``?error=`` text is the visitor's: it never reaches the audit's reason.
ERROR_CODE = re.compile(r"[a-z_]{1,40}")

# The statements of every login, built once (a login binds only its values): building
# and keying a statement costs more than running it on a local database.
#: One DELETE for two sweeps (see :meth:`SocialLoginService._drop_old_states`).
SWEEP_STATES = delete(LoginState).where(or_(
    LoginState.state_hash.in_(
        select(LoginState.state_hash).where(LoginState.created_at < bindparam("expired"))
        .order_by(LoginState.created_at).limit(SWEEP_BATCH)),
    and_(LoginState.binding == bindparam("binding"),
         LoginState.state_hash.not_in(
             select(LoginState.state_hash).where(LoginState.binding == bindparam("binding"))
             .order_by(LoginState.created_at.desc(), LoginState.state_hash)
             .limit(bindparam("keep"))))))
#: What the callback needs of a state.
STATE_COLUMNS = (LoginState.provider, LoginState.site, LoginState.binding,
                 LoginState.created_at, LoginState.came_from, LoginState.code_verifier,
                 LoginState.nonce)
#: A state, by its hash: read, taken (single use) or dropped.
READ_STATE = select(*STATE_COLUMNS).where(LoginState.state_hash == bindparam("state_hash"))
TAKE_STATE = delete(LoginState).where(
    LoginState.state_hash == bindparam("state_hash")).returning(*STATE_COLUMNS)
DROP_STATE = delete(LoginState).where(LoginState.state_hash == bindparam("state_hash"))
#: A new state.
ADD_STATE = insert(LoginState)
#: ORM DML without reloading objects: nothing of these rows is held in the session.
NO_SYNC = {"synchronize_session": False}


class LoginFailure(Exception):
    """A login that ends on the login page with ``message`` for the visitor."""

    def __init__(self, message: str, cause: str, result: Any = None, status: int = 200,
                 outcome: str = "error") -> None:
        super().__init__(cause)
        self.message = message
        self.cause = cause
        self.result = result
        self.status = status
        self.outcome = outcome


@dataclass(frozen=True)
class PendingState:
    """A login's state as its callback took it from ``social_login_states``."""

    provider: str
    site: str
    binding: str
    created_at: datetime
    came_from: str
    code_verifier: str | None
    nonce: str | None


@dataclass
class LoginOutcome:
    """A visitor signed in: who, where to next, and whether the account is new."""

    userid: str
    came_from: str
    created: bool
    headers: list[tuple[str, str]]
    #: The provider's answer, velruse's ``AuthenticationComplete``.
    result: Any = None


def callback_url(request: Any, provider_name: str) -> str:
    """The URL to register at the provider: the route under the site's base URL when it
    has one (:func:`~cms_social_login.sites.site_base_url`), else on the request's host."""
    return site_route_url(request, "cms_social_login.callback", provider=provider_name)



class SocialLoginService:
    """The SSO flow of one request."""

    def __init__(self, request: Any) -> None:
        self.request = request
        self.dbsession = request.social_login_dbsession
        self.site = site_key(request)
        self.settings = request.registry.social_login_settings
        self.box: ISecretBox = request.registry.getUtility(ISecretBox)

    def live_provider(self, name: str) -> tuple[Provider, ProviderConfig, dict[str, str]]:
        """The provider ``name``, its published config and its decrypted values.

        LoginFailure when it is not installed, not enabled or not fully set up.
        """
        provider = get_provider_registry(self.request.registry).get(name)
        if provider is None:  # notify_failure logs it and writes no audit row
            raise LoginFailure(_("This login option is not available."),
                               "no such provider is installed", status=404)
        config = ProviderConfig.from_document(published_document(self.request), name)
        if not (config.enabled and config.is_complete(provider)):
            raise LoginFailure(_("This login option is not available."),
                               f"provider {name} is not published", status=404)
        try:
            return provider, config, config.plain_values(provider, self.box)
        except SecretDecryptionError as exc:
            raise LoginFailure(
                _("${title} login is not set up correctly on this site. Please tell the "
                  "site's editors.", mapping={"title": provider.display_title(config.values)}),
                f"{name}: the stored secret cannot be decrypted with the current secret key",
            ) from exc

    def redirect_uri(self, provider: Provider) -> str:
        """The callback URL, from the configured route only."""
        return callback_url(self.request, provider.name)

    def begin(self, name: str, came_from: object) -> str:
        """Record a single-use state and return the provider's authorize URL."""
        provider, _config, values = self.live_provider(name)
        session = self.request.session
        binding = session.get(BINDING_KEY)
        if not isinstance(binding, str):
            binding = secrets.token_urlsafe(32)
            session[BINDING_KEY] = binding
        state = secrets.token_urlsafe(32)
        code_verifier = secrets.token_urlsafe(48) if provider.uses_pkce else None
        nonce = secrets.token_urlsafe(24) if provider.uses_nonce else None
        try:  # before any write: a provider that cannot be reached leaves no state behind
            url = provider.authorize_redirect(LoginContext(
                values, self.redirect_uri(provider), state, code_verifier, nonce, self.site))
        except ProviderError as exc:
            raise LoginFailure(exc.message, f"{name}: {exc.cause}", outcome=exc.outcome) from exc
        binding_hash = token_digest(binding)
        self._drop_old_states(binding_hash)
        self.dbsession.execute(ADD_STATE, {
            "state_hash": token_digest(state), "site": self.site, "provider": provider.name,
            "binding": binding_hash, "came_from": safe_came_from(came_from),
            "code_verifier": code_verifier, "nonce": nonce, "created_at": utcnow()})
        return url

    def _drop_old_states(self, binding_hash: str) -> None:
        """One DELETE for two sweeps: at most :data:`SWEEP_BATCH` expired states (oldest
        first, through the ``created_at`` index), so every start does a small, bounded
        share also after a flood; and this browser's states beyond its newest
        ``max_pending_logins - 1``, so that with the one being started it holds at most
        ``max_pending_logins``."""
        self.dbsession.execute(SWEEP_STATES, {
            "expired": utcnow() - timedelta(seconds=self.settings.state_ttl),
            "binding": binding_hash, "keep": self.settings.max_pending_logins - 1,
        }, execution_options=NO_SYNC)

    def complete(self, name: str, params: dict[str, str]) -> LoginOutcome:
        """Consume the state, let the provider finish, find or create the local user.

        The state is taken with one ``DELETE ... RETURNING``: a state two requests bring
        at once is used by one of them (the other's DELETE returns nothing, on PostgreSQL
        after waiting for the first to commit). On PostgreSQL it is taken before the
        provider is called, which locks only the state's row while the provider answers.
        SQLite's write lock is the whole database's, so there the state is read before
        the call and taken after it: no other request waits for this provider's answer.
        A request that pyramid_retry runs again finds the state back (the attempt was
        rolled back) and the provider's answer kept (:data:`RESULT_CACHE_KEY`).
        """
        provider, config, values = self.live_provider(name)
        take_after_call = self._write_lock_is_the_databases()
        pending = self._take_state(provider, params.get("state"), read_only=take_after_call)
        result = self.request.environ.get(RESULT_CACHE_KEY)
        if result is None:
            try:
                result = provider.complete(LoginContext(
                    values, self.redirect_uri(provider), str(params.get("state")),
                    pending.code_verifier, pending.nonce, self.site), params)
            except ProviderError as exc:
                if take_after_call:  # single use, even when the provider failed
                    self._take_state(provider, params.get("state"))
                raise LoginFailure(exc.message, f"{name}: {exc.cause}",
                                   outcome=exc.outcome) from exc
            self.request.environ[RESULT_CACHE_KEY] = result
        if take_after_call:
            self._take_state(provider, params.get("state"))
        if not isinstance(result, AuthenticationComplete):
            raise LoginFailure(
                _("The ${title} login was cancelled, so you are not signed in.",
                  mapping={"title": provider.display_title(config.values)}),
                f"{name}: the provider answered {denied_code(result)}", result=result,
                outcome="denied")
        userid, created = self._local_user(provider, config, result)
        came_from = safe_came_from(pending.came_from)
        # A new session at login (nothing planted before survives), revocable at logout.
        headers = sign_in(self.request, userid)
        remember_provider_login(self.request, name, result.credentials or {})
        self.request.registry.notify(SocialLoginSucceeded(
            request=self.request, provider_name=name, result=result, userid=userid,
            created=created))
        return LoginOutcome(userid=userid, came_from=came_from, created=created,
                            headers=list(headers), result=result)

    def _invalid_state(self, provider: Provider) -> LoginFailure:
        return LoginFailure(
            _("This login link has expired or was already used. Please start again."),
            f"{provider.name}: state missing, unknown, reused, expired or from another "
            "browser", status=400, outcome="invalid-state")

    def _write_lock_is_the_databases(self) -> bool:
        """True on SQLite, where a write transaction locks the whole database."""
        return self.dbsession.get_bind().dialect.name == "sqlite"

    def _take_state(self, provider: Provider, state: object, read_only: bool = False
                    ) -> PendingState:
        """Delete the state and return it, if it is this browser's, this provider's and
        this site's and has not expired (a state that is not is deleted all the same).
        With ``read_only`` a valid state is only read (the caller takes it later)."""
        if not isinstance(state, str) or not 16 <= len(state) <= 256:
            raise self._invalid_state(provider)
        mine = {"state_hash": token_digest(state)}
        if read_only:
            row = self.dbsession.execute(READ_STATE, mine).one_or_none()
        else:
            row = self.dbsession.execute(TAKE_STATE, mine,
                                         execution_options=NO_SYNC).one_or_none()
        if row is None:  # unknown, or used by another request
            raise self._invalid_state(provider)
        pending = PendingState(*row)
        binding = self.request.session.get(BINDING_KEY)
        created_at = as_utc(pending.created_at)
        if (pending.provider != provider.name
                or pending.site != self.site  # started on another site
                or not isinstance(binding, str)
                or not hmac.compare_digest(pending.binding, token_digest(binding))
                or utcnow() - created_at > timedelta(seconds=self.settings.state_ttl)):
            if read_only:
                self.dbsession.execute(DROP_STATE, mine, execution_options=NO_SYNC)
            raise self._invalid_state(provider)
        return pending

    def _local_user(self, provider: Provider, config: ProviderConfig,
                    result: AuthenticationComplete) -> tuple[str, bool]:
        """The local user of this provider account: linked before, the signed-in owner's,
        the one with the same confirmed email (only when the editor turned that on), or
        a new one."""
        profile = result.profile
        provider_user_id = str(profile["accounts"][0]["userid"])
        # The same user id from another server (issuer) is another person.
        issuer = provider.identity_issuer(config.values)
        title = provider.display_title(config.values)
        adapter: IUserAdapter = self.request.registry.getUtility(IUserAdapter)
        display_name = (profile.get("displayName") or "")[:255] or None
        email = (profile.get("verifiedEmail") or "")[:320] or None
        signed_in = self.request.authenticated_userid
        exists = user_exists_clause(adapter, LinkedIdentity.userid)
        if exists is not None:  # a returning user: one statement
            userid = touch_identity(self.dbsession, self.site, provider.name, issuer,
                                    provider_user_id, display_name=display_name,
                                    email=email, owner=signed_in, user_exists=exists)
            if userid is not None:
                return userid, False
        # A first login, or a returning one that is refused (or whose adapter cannot
        # check its accounts in SQL): the identity's row tells which.
        identity = find_identity(self.dbsession, self.site, provider.name, issuer,
                                 provider_user_id)
        created = False
        if identity is None:
            userid = signed_in
            if userid is None and config.link_by_email and email:
                userid = adapter.find_user_by_email(self.request, email)
            if userid is None:
                with retry_lost_races():  # e.g. two first logins taking one username
                    userid = adapter.create_user(self.request, profile, provider.name)
                created = True
            identity = LinkedIdentity(site=self.site, provider=provider.name, issuer=issuer,
                                      provider_user_id=provider_user_id, userid=userid)
            self.dbsession.add(identity)
        elif signed_in not in (None, identity.userid):
            raise LoginFailure(
                _("This ${title} account is already connected to another account on this "
                  "site. Log out first to use it.", mapping={"title": title}),
                f"{provider.name}: identity {identity.id} belongs to another user",
                outcome="refused")
        elif adapter.get_user(self.request, identity.userid) is None:
            raise LoginFailure(
                _("The account linked to this ${title} login no longer exists.",
                  mapping={"title": title}),
                f"{provider.name}: identity {identity.id} points to missing user "
                f"{identity.userid!r}")
        identity.display_name = display_name
        identity.email = email
        identity.last_login_at = utcnow()
        # Two first logins of one account at once: the loser's INSERT breaks the unique
        # key and the request runs again, finding the winner's identity.
        flush_or_retry(self.dbsession)
        return identity.userid, created


def denied_code(result: object) -> str:
    """The error code of a denied login (``access_denied``...), or "an error" when the
    provider's answer (which a visitor can write into the callback URL) is no code."""
    reason = getattr(result, "reason", None)
    return reason if isinstance(reason, str) and ERROR_CODE.fullmatch(reason) else "an error"


def notify_failure(request: Any, provider_name: str, failure: LoginFailure) -> None:
    """Log a failed login for the operator and tell subscribers (the audit log).

    A provider name that no installed provider has (any path a visitor types) is only
    logged: subscribers hear of logins through providers of this site.
    """
    log.warning("social login failed: provider=%s cause=%s", loggable(provider_name, 64),
                loggable(failure.cause))
    if get_provider_registry(request.registry).get(provider_name) is None:
        return
    request.registry.notify(SocialLoginFailed(
        request=request, provider_name=provider_name, reason=failure.message,
        cause=failure.cause, result=failure.result, outcome=failure.outcome))
