"""Single sign-on: start at a provider, come back, become a local user."""

from __future__ import annotations

import base64
import functools
import hashlib
import hmac
import importlib
import logging
import re
import secrets
import time
from dataclasses import dataclass, replace
from datetime import timedelta
from typing import Any

from sqlalchemy import bindparam, delete
from velruse import AuthenticationComplete

from ..crypto import SecretDecryptionError, derive_key, token_digest
from ..events import SocialLoginFailed, SocialLoginSucceeded
from ..i18n import _
from ..interfaces import ISecretBox, IUserAdapter
from ..logs import loggable
from ..models import LinkedIdentity, UsedLoginState
from ..models.records import utcnow
from ..providers.base import LoginContext, Provider
from ..providers.errors import ProviderError
from ..providers.registry import get_provider_registry
from ..redirects import safe_came_from, site_route_url
from ..session import COOKIE_JSON_CHARS, now, session_json_chars, sign_in
from ..sites import site_key
from ..sweeps import due
from .db import flush_or_retry, retry_lost_races
from .identities import can_touch_identity, find_identity, touch_identity
from .login_settings import ProviderConfig
from .provider_sessions import remember_provider_login
from .published import published_document

log = logging.getLogger(__name__)

#: Session key of the visitor's pending logins, oldest first: ``{"s": key of the state,
#: "p": provider, "w": site, "t": started (Unix time), "c": where to go back to}`` each.
PENDING_KEY = "cms_social_login.logins"
#: The most characters the whole session may take (its JSON, as the default session
#: serializes it) after a login's start: beyond it the oldest pending logins are dropped,
#: as beyond ``max_pending_logins``; the newest is always kept. The rest of the cookie's
#: room (:data:`~cms_social_login.session.COOKIE_JSON_CHARS`) is for what the same
#: session may get while the logins are pending: a failed login's message, an editor's
#: Test login (pending, and its result).
#: A newest login that would not fit the cookie at all keeps no ``came_from`` (the visitor
#: comes back to the home page instead of a 500).
PENDING_CHARS = 1200
#: Environ key that keeps a provider's answer across pyramid_retry attempts (the
#: provider's code is single-use, so a retried request must not ask again).
RESULT_CACHE_KEY = "cms_social_login.result"
#: Each process sweeps used states at most once per this many seconds.
SWEEP_INTERVAL = 300
#: A used state is kept this many seconds beyond ``state_ttl`` before it is swept: the
#: hosts' clocks may differ (the pending login's age is read by one, the sweep by another).
SWEEP_MARGIN = 300
_SWEPT_AT_KEY = "cms_social_login.used_states_swept_at"
#: What this module remembers in a process between requests, on the registry (see
#: :func:`cms_social_login.cached_state.forget_cached_state`).
PROCESS_STATE_KEYS = (_SWEPT_AT_KEY,)
#: What an error code from a provider looks like (RFC 6749 4.1.2.1: ``access_denied``...).
#: Any other ``?error=`` text is the visitor's: it never reaches the audit's reason.
ERROR_CODE = re.compile(r"[a-z_]{1,40}")

# The statements of every login, built once (a login binds only its values): building
# and keying a statement costs more than running it on a local database.
#: Used states that can no longer come back (they expired anyway).
SWEEP_USED_STATES = delete(UsedLoginState).where(UsedLoginState.used_at < bindparam("expired"))
#: ORM DML without reloading objects: nothing of these rows is held in the session.
NO_SYNC = {"synchronize_session": False}


@functools.cache
def claim_statement(dialect_name: str) -> Any:
    """The statement that takes a state for good on ``dialect_name`` (``postgresql`` or
    ``sqlite``): its hash inserted unless it is there already (then no row comes back).
    On PostgreSQL a second request with the same state waits for the first one's
    transaction and then finds it taken. Built once per dialect, whose module is
    imported only then (a PostgreSQL worker never loads SQLite's)."""
    if dialect_name not in ("postgresql", "sqlite"):
        raise RuntimeError(f"cms_social_login supports PostgreSQL and SQLite, not {dialect_name}")
    dialect = importlib.import_module(f"sqlalchemy.dialects.{dialect_name}")
    return (dialect.insert(UsedLoginState)
            .values(state_hash=bindparam("state_hash"), used_at=bindparam("used_at"))
            .on_conflict_do_nothing(index_elements=[UsedLoginState.state_hash])
            .returning(UsedLoginState.state_hash))


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
class PendingLogin:
    """A login started in this browser, as its session keeps it until the callback."""

    key: str
    provider: str
    site: str
    started: int
    came_from: str

    @classmethod
    def from_session(cls, entry: object) -> PendingLogin | None:
        """The pending login an entry of :data:`PENDING_KEY` holds (None: not one)."""
        if not isinstance(entry, dict):
            return None
        fields = (entry.get("s"), entry.get("p"), entry.get("w"), entry.get("t"),
                  entry.get("c"))
        if not (all(isinstance(value, str) for value in fields[:3])
                and isinstance(fields[3], int) and isinstance(fields[4], str)):
            return None
        return cls(*fields)

    def to_session(self) -> dict[str, Any]:
        """The entry of :data:`PENDING_KEY` that holds this login."""
        return {"s": self.key, "p": self.provider, "w": self.site, "t": self.started,
                "c": self.came_from}


def key_tag(secret_key: str) -> str:
    """A public tag of a secret key (8 hex digits of a key derived from it): a login's
    state starts with the tag of the key that derives its PKCE verifier and nonce, so
    the callback finds that key also after a rotation (``new old``)."""
    return derive_key(secret_key, "login key tag", 4).hex()


def state_key(state: str) -> str:
    """What the session keeps of a login's state: 128 bits of its SHA-256 (the state
    itself, the key to the login, is only in the provider's redirect)."""
    return token_digest(state)[:32]


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
        self.site = site_key(request)
        self.settings = request.registry.social_login_settings
        self.box: ISecretBox = request.registry.getUtility(ISecretBox)

    @property
    def dbsession(self) -> Any:
        """The request's session of the add-on's database (made when first used: a
        login's start needs none)."""
        return self.request.social_login_dbsession

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
        """Keep a single-use state in the visitor's session and return the provider's
        authorize URL. Nothing is written to the database."""
        provider, _config, values = self.live_provider(name)
        secret_key = self.settings.secret_keys[0]
        state = f"{key_tag(secret_key)}.{secrets.token_urlsafe(32)}"
        code_verifier, nonce = self._login_secrets(provider, state, secret_key)
        try:
            url = provider.authorize_redirect(LoginContext(
                values, self.redirect_uri(provider), state, code_verifier, nonce, self.site))
        except ProviderError as exc:
            raise LoginFailure(exc.message, f"{name}: {exc.cause}", outcome=exc.outcome) from exc
        self._keep_pending(PendingLogin(
            key=state_key(state), provider=provider.name, site=self.site,
            started=int(time.time()), came_from=safe_came_from(came_from)))
        return url

    def _login_secrets(self, provider: Provider, state: str, secret_key: str
                       ) -> tuple[str | None, str | None]:
        """The login's PKCE verifier and OpenID Connect nonce (where the provider uses
        them), derived from its state with keys of ``secret_key`` (the one whose
        :func:`key_tag` the state starts with): nobody who sees the state (in the
        redirect, at the provider) can tell them, and the session need not keep them.
        43 characters of base64url each (RFC 7636 4.1: 43 to 128)."""
        def derived(purpose: str) -> str:
            key = derive_key(secret_key, purpose)
            digest = hmac.new(key, state.encode(), hashlib.sha256).digest()
            return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()

        return (derived("login pkce verifier") if provider.uses_pkce else None,
                derived("login nonce") if provider.uses_nonce else None)

    def _pending_logins(self) -> list[PendingLogin]:
        """This browser's pending logins that have not expired, oldest first."""
        entries = self.request.session.get(PENDING_KEY)
        oldest = time.time() - self.settings.state_ttl
        pending = [PendingLogin.from_session(entry)
                   for entry in (entries if isinstance(entries, list) else [])]
        return [login for login in pending if login is not None and login.started >= oldest]

    def _store_pending(self, pending: list[PendingLogin]) -> None:
        session = self.request.session
        if pending:
            session[PENDING_KEY] = [login.to_session() for login in pending]
        elif PENDING_KEY in session:
            del session[PENDING_KEY]

    def _keep_pending(self, login: PendingLogin) -> None:
        """Add ``login`` to the session's pending logins; drop the oldest beyond
        ``max_pending_logins`` or :data:`PENDING_CHARS`. The newest always stays, without
        its ``came_from`` when the session would outgrow its cookie
        (:data:`~cms_social_login.session.COOKIE_JSON_CHARS`) with it."""
        pending = [*self._pending_logins(), login]
        del pending[:-self.settings.max_pending_logins]
        session = self.request.session

        def chars(logins: list[PendingLogin]) -> int:
            return session_json_chars(
                session, {PENDING_KEY: [entry.to_session() for entry in logins]})

        while len(pending) > 1 and chars(pending) > PENDING_CHARS:
            del pending[0]
        if chars(pending) > COOKIE_JSON_CHARS:
            pending = [replace(pending[-1], came_from="/")]
        self._store_pending(pending)

    def complete(self, name: str, params: dict[str, str]) -> LoginOutcome:
        """Take the pending login, let the provider finish, find or create the local user.

        The state must be a pending login of this browser's session (for this provider
        and site, not expired); the session forgets it, and its hash is inserted into
        ``social_login_used_states``, so it works once even for a copy of the cookie: of
        two requests with the same state, one inserts it (on PostgreSQL the other waits
        for its transaction, then finds it taken). On PostgreSQL it is taken before the
        provider is called, which locks only the state's key while the provider answers.
        SQLite's write lock is the whole database's, so there it is taken after the call:
        no other request waits for this provider's answer. A request that pyramid_retry
        runs again finds the state back (the attempt was rolled back, and its session
        was not saved) and the provider's answer kept (:data:`RESULT_CACHE_KEY`).
        """
        provider, config, values = self.live_provider(name)
        state = params.get("state")
        pending = self._take_pending(provider, state)
        secret_key = self._secret_key_of(state)
        if secret_key is None:
            raise self._invalid_state(
                provider, "the secret key that started the login is no longer configured")
        take_after_call = self._write_lock_is_the_databases()
        if not take_after_call:
            self._claim_state(provider, state)
        result = self.request.environ.get(RESULT_CACHE_KEY)
        try:
            if result is None:
                code_verifier, nonce = self._login_secrets(provider, state, secret_key)
                try:
                    result = provider.complete(LoginContext(
                        values, self.redirect_uri(provider), state, code_verifier, nonce,
                        self.site), params)
                except ProviderError as exc:
                    raise LoginFailure(exc.message, f"{name}: {exc.cause}",
                                       outcome=exc.outcome) from exc
                self.request.environ[RESULT_CACHE_KEY] = result
        finally:  # after the provider's answer, also when it failed (single use)
            if take_after_call:
                self._claim_state(provider, state)
            self._sweep_if_due()
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

    def _invalid_state(self, provider: Provider, cause: str = "state missing, unknown, "
                       "reused, expired or from another browser") -> LoginFailure:
        message = _("This login link has expired or was already used. Please start again.")
        if self.request.authenticated_userid is not None:
            # A second tab's login, or Back after one: signing in started a new session,
            # which holds none of the old one's pending logins. Nothing to start again.
            message = _("This login link no longer works. You are still signed in.")
        return LoginFailure(message, f"{provider.name}: {cause}", status=400,
                            outcome="invalid-state")

    def _secret_key_of(self, state: str) -> str | None:
        """The configured secret key whose :func:`key_tag` ``state`` starts with (the one
        that was first when the login started: it may have been rotated since)."""
        tag = state.partition(".")[0]
        return next((key for key in self.settings.secret_keys if key_tag(key) == tag),
                    None)  # a tag is public: no need for a constant-time comparison

    def _write_lock_is_the_databases(self) -> bool:
        """True on SQLite, where a write transaction locks the whole database."""
        return self.dbsession.get_bind().dialect.name == "sqlite"

    def _take_pending(self, provider: Provider, state: object) -> PendingLogin:
        """The session's pending login of ``state``, which the session forgets, if it is
        this provider's and this site's and has not expired (one that is not is
        forgotten all the same); else the invalid-state failure."""
        if not isinstance(state, str) or not 16 <= len(state) <= 256:
            raise self._invalid_state(provider)
        key = state_key(state)
        pending = self._pending_logins()
        found = next((login for login in pending if hmac.compare_digest(login.key, key)),
                     None)
        self._store_pending([login for login in pending if login is not found])
        if found is None:  # unknown here: another browser's, expired, or used
            raise self._invalid_state(provider)
        if found.provider != provider.name or found.site != self.site:
            raise self._invalid_state(provider)
        return found

    def _claim_state(self, provider: Provider, state: str) -> None:
        """Insert the state's hash into the used states: the invalid-state failure when it
        is there already (the same state came back before)."""
        dialect = self.dbsession.get_bind().dialect.name
        taken = self.dbsession.execute(claim_statement(dialect), {
            "state_hash": token_digest(state), "used_at": now()}).first()
        if taken is None:
            raise self._invalid_state(provider)

    def _sweep_if_due(self) -> None:
        """Delete the used states that can no longer come back, by each process at most
        once per :data:`SWEEP_INTERVAL`. Called after the provider's answer: the deleted
        rows stay locked until the transaction ends, and another process sweeping the
        same rows must not wait for this provider."""
        moment = now()
        if due(self.request.registry, _SWEPT_AT_KEY, SWEEP_INTERVAL, moment.timestamp()):
            self.dbsession.execute(SWEEP_USED_STATES, {
                "expired": moment - timedelta(seconds=self.settings.state_ttl
                                              + SWEEP_MARGIN)},
                execution_options=NO_SYNC)

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
        if can_touch_identity(self.request):  # a returning user: one statement
            userid = touch_identity(self.request, provider.name, issuer, provider_user_id,
                                    display_name=display_name, email=email, owner=signed_in)
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
