"""Test login: the editor runs the real authorization round trip with the *draft* values.

It goes through the provider API only (``authorize_redirect`` then ``complete``) and
the provider's registered callback URL, so it proves what a visitor's login would.
Nothing is published, no account is created or linked, and the editor's own session
stays signed in: the pending test lives in the editor's session (sealed with the key of
its own purpose, never readable as a pending secret or a secret at rest; keyed by a hash
of its ``state``), and the callback hands a state
found there to :func:`finish` instead of the visitor's sign-in.
"""

from __future__ import annotations

import hmac
import secrets
from dataclasses import asdict, dataclass, field
from typing import Any

from velruse import AuthenticationComplete

from ..crypto import (
    TEST_LOGIN_STATE,
    SecretDecryptionError,
    purpose_box,
    seal,
    token_digest,
    unseal,
)
from ..i18n import _, translate
from ..interfaces import ISecretBox
from ..models.records import utcnow
from ..providers.base import LoginContext, Provider
from ..providers.errors import AccessRestricted, ProviderError
from ..providers.registry import get_provider_registry
from ..sites import site_key
from . import audit
from .login_settings import ProviderConfig
from .sso import callback_url

#: Session key of the pending Test login (one at a time; a new one replaces it).
PENDING_KEY = "cms_social_login.test_login"
#: Session key of the last Test login's result, shown by the result page.
RESULT_KEY = "cms_social_login.test_login_result"
#: Environ key that keeps the result across pyramid_retry attempts (the code is single-use).
RESULT_CACHE_KEY = "cms_social_login.test_login_result"
#: Where a Test login was started (the result page links back there).
FROM_TAB = "tab"
FROM_PREVIEW = "preview"


class TestLoginRefused(Exception):
    """A Test login cannot start; ``message`` says why, for the editor."""

    __test__ = False  # not a pytest test class

    def __init__(self, message: Any) -> None:
        super().__init__(str(message))
        self.message = message


@dataclass
class TestLoginResult:
    """What came back: the outcome in words and the profile the provider sent."""

    __test__ = False

    provider: str
    title: str
    outcome: str  # "works", "refused" (the tab's rule), "denied" or "error"
    message: str
    source: str
    at: str
    name: str | None = None
    verified_email: str | None = None
    provider_user_id: str | None = None
    emails: list[str] = field(default_factory=list)
    rule: str | None = None
    rule_passed: bool | None = None
    detail: str | None = None

    @classmethod
    def from_session(cls, data: Any) -> TestLoginResult | None:
        """The result kept in the session, if any."""
        if not isinstance(data, dict):
            return None
        try:
            return cls(**data)
        except TypeError:
            return None



def _box(request: Any) -> ISecretBox:
    return request.registry.getUtility(ISecretBox)


def begin(request: Any, provider: Provider, config: ProviderConfig, source: str) -> str:
    """Keep a pending Test login of ``config`` in the editor's session; return the
    provider's authorize URL. TestLoginRefused when the tab is not filled in or the
    provider cannot be reached."""
    if not config.is_complete(provider):
        raise TestLoginRefused(_("Fill in every required field of ${title} first.",
                                 mapping={"title": provider.title}))
    box = _box(request)
    try:
        values = config.plain_values(provider, box)
    except SecretDecryptionError:
        raise TestLoginRefused(_("The stored secret cannot be read with the site's secret "
                                 "key: type it again.")) from None
    state = secrets.token_urlsafe(32)
    code_verifier = secrets.token_urlsafe(48) if provider.uses_pkce else None
    nonce = secrets.token_urlsafe(24) if provider.uses_nonce else None
    try:
        url = provider.authorize_redirect(LoginContext(
            values, callback_url(request, provider.name), state, code_verifier, nonce,
            site_key(request)))
    except ProviderError as exc:
        raise TestLoginRefused(exc.message) from None
    pending = {"state": token_digest(state), "provider": provider.name,
               "config": config.to_document(), "code_verifier": code_verifier,
               "nonce": nonce, "source": source}
    request.session[PENDING_KEY] = seal(purpose_box(request.registry, TEST_LOGIN_STATE),
                                        TEST_LOGIN_STATE, {}, pending)
    return url


def _pending(request: Any) -> dict[str, Any] | None:
    token = request.session.get(PENDING_KEY)
    if not isinstance(token, str):
        return None
    try:
        data = unseal(purpose_box(request.registry, TEST_LOGIN_STATE), token,
                      TEST_LOGIN_STATE, {},
                      ttl=request.registry.social_login_settings.state_ttl)
    except SecretDecryptionError:
        return None
    return data if isinstance(data, dict) else None


def is_test_login(request: Any, params: dict[str, str]) -> bool:
    """Whether the callback's ``state`` is this session's pending Test login."""
    state = params.get("state")
    pending = _pending(request)
    return (pending is not None and isinstance(state, str) and 16 <= len(state) <= 256
            and hmac.compare_digest(str(pending.get("state")), token_digest(state)))


def finish(request: Any, provider_name: str, params: dict[str, str]) -> TestLoginResult:
    """Let the provider finish the pending Test login; keep and audit the result.

    Call only after :func:`is_test_login`. Only an editor gets here with a pending test
    (the result is shown to editors only); nothing but the audit record is written.
    """
    cached = request.environ.get(RESULT_CACHE_KEY)
    if cached is not None:
        return cached
    pending = _pending(request) or {}
    del request.session[PENDING_KEY]  # single use
    provider = get_provider_registry(request.registry).get(str(pending.get("provider")))
    source = FROM_PREVIEW if pending.get("source") == FROM_PREVIEW else FROM_TAB
    if provider is None or provider.name != provider_name:
        result = TestLoginResult(
            provider=provider_name[:64], title=provider_name[:64], outcome="error",
            source=source, at=_now(),
            message=translate(request, _("The provider answered at another provider's "
                                         "callback URL. Check the callback URL you "
                                         "registered.")))
    else:
        result = _complete(request, provider, pending, source)
    audit.record(request, audit.EDITOR, "test-login", provider=result.provider,
                 detail={"result": result.outcome, "from": source})
    request.session[RESULT_KEY] = asdict(result)
    request.environ[RESULT_CACHE_KEY] = result
    return result


def _now() -> str:
    return utcnow().strftime("%Y-%m-%d %H:%M UTC")


def _complete(request: Any, provider: Provider, pending: dict[str, Any], source: str
              ) -> TestLoginResult:
    config = ProviderConfig.from_document({provider.name: pending.get("config") or {}},
                                          provider.name)
    title = {"title": provider.title}
    base = {"provider": provider.name, "title": provider.title, "source": source,
            "at": _now()}
    try:
        values = config.plain_values(provider, _box(request))
    except SecretDecryptionError:
        return TestLoginResult(**base, outcome="error", message=translate(request, _(
            "The secret cannot be read with the site's secret key: type it again.")))
    rule = provider.access_rule(values)
    rule_words = translate(request, rule) if rule else None
    try:
        answer = provider.complete(LoginContext(
            values, callback_url(request, provider.name), str(request.GET.get("state")),
            pending.get("code_verifier"), pending.get("nonce"), site_key(request)),
            dict(request.GET))
    except AccessRestricted as exc:
        return TestLoginResult(**base, outcome="refused", rule=rule_words, rule_passed=False,
                               message=translate(request, _(
                                   "${title} signed this account in, but the tab's rule "
                                   "refuses it: visitors with this account could not log "
                                   "in.", mapping=title)),
                               detail=translate(request, exc.message))
    except ProviderError as exc:
        return TestLoginResult(**base, outcome="error",
                               message=translate(request, exc.message),
                               detail=exc.cause[:300])
    if not isinstance(answer, AuthenticationComplete):
        return TestLoginResult(**base, outcome="denied", message=translate(request, _(
            "The ${title} login was cancelled at ${title}: nothing came back to test.",
            mapping=title)))
    profile = answer.profile
    accounts = profile.get("accounts") or [{}]
    emails = [str(e.get("value")) for e in profile.get("emails") or ()
              if isinstance(e, dict) and e.get("value")]
    return TestLoginResult(
        **base, outcome="works", rule=rule_words, rule_passed=True if rule else None,
        message=translate(request, _("The test login with ${title} worked: this is what "
                                     "${title} sent.", mapping=title)),
        name=str(profile.get("displayName") or "") or None,
        verified_email=profile.get("verifiedEmail") or None,
        provider_user_id=str(accounts[0].get("userid") or "") or None,
        emails=emails[:10])


def last_result(request: Any) -> TestLoginResult | None:
    """The last Test login's result in this session, if any."""
    return TestLoginResult.from_session(request.session.get(RESULT_KEY))
