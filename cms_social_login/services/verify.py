"""Checking a provider's credentials from the editor's tab, storing nothing."""

from __future__ import annotations

import logging
from collections.abc import Mapping

from ..i18n import _
from ..providers.base import Provider, Verification
from ..providers.errors import ProviderError

__all__ = ["Verification", "can_verify", "verify_credentials"]

log = logging.getLogger(__name__)


def can_verify(provider: Provider) -> bool:
    """Whether the tab offers "Verify credentials" for ``provider``."""
    return provider.can_verify_credentials


def verify_credentials(provider: Provider, values: Mapping[str, str]) -> Verification:
    """Ask the provider whether ``values`` work (its
    :meth:`~cms_social_login.providers.base.Provider.verify_credentials`); a provider
    that fails on the way answers "could not tell", never an error page; an address the
    site's own policy refuses is named as such (no network problem to look for). A
    plugin whose check answers something else than a :class:`Verification` (a 0.x
    habit: None, a bool) gets "could not tell" too, and its author a log line."""
    try:
        result = provider.verify_credentials(values)
    except ProviderError as error:
        return Verification.unanswered(error, provider.title, _(
            "Could not reach ${title}. Check the network and try again; nothing was stored.",
            mapping={"title": provider.title}))
    if isinstance(result, Verification):
        return result
    log.error("provider %s: verify_credentials() returned %s, not a Verification(ok, "
              "message)", provider.name, type(result).__name__)
    return Verification(None, _("${title} could not check the credentials. Use Test login "
                                "instead.", mapping={"title": provider.title}))
