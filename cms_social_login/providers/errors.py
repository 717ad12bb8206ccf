"""The errors of the provider API: what a provider raises when a login cannot go on.

Every one is a :class:`ProviderError`: ``message`` is plain words for the visitor,
``cause`` the operator's detail for the log (never a secret or a token). The bounded
HTTP client (:mod:`cms_social_login.http`) raises them too, with one of the reasons below
as the cause.
"""

from __future__ import annotations

from ..i18n import _


class ProviderError(Exception):
    """A provider could not complete a login.

    ``message`` is plain words for the visitor; ``cause`` is the operator's detail for the
    log (never a secret or a token). ``outcome`` names the failure in the audit log:
    ``"error"``, or ``"refused"`` when the provider's account is not allowed here.
    """

    outcome = "error"

    def __init__(self, message: str, cause: str) -> None:
        super().__init__(cause)
        self.message = message
        self.cause = cause


class AccessRestricted(ProviderError):
    """The provider vouched for the visitor, but the site's rules refuse them.

    For example a Bitbucket account that is not a member of a workspace the editor
    allowed. The audit log records it as the outcome "refused".
    """

    outcome = "refused"


class ProviderBusy(ProviderError):
    """This process already has as many calls to the provider in flight as it allows
    (``cms_social_login.max_concurrent_calls_per_provider``) and they are slow."""


class RefreshTokenRejected(ProviderError):
    """The token endpoint refused a refresh token (``invalid_grant``): it expired, was
    revoked, or was already used (providers that rotate refresh tokens)."""


#: What an editor and the audit page read about a failed call (never a host, a port or an
#: HTTP status: those go to the operator's log only).
UNREACHABLE_REASON = _("The server could not be reached")
NOT_ALLOWED_REASON = _("The address is not allowed")
UNREADABLE_REASON = _("The server sent an answer that could not be read")


def reason_in_words(error: ProviderError) -> str:
    """What an editor reads about ``error``: the network reason (could not be reached,
    not allowed, unreadable), else the message the visitor gets."""
    for reason in (NOT_ALLOWED_REASON, UNREACHABLE_REASON, UNREADABLE_REASON):
        if error.cause == reason:
            return reason
    return error.message
