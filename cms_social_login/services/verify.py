"""Checking a provider's credentials from the editor's tab, storing nothing."""

from __future__ import annotations

from collections.abc import Mapping

from ..i18n import _
from ..providers.base import Provider, Verification
from ..providers.errors import ProviderError

__all__ = ["Verification", "can_verify", "verify_credentials"]


def can_verify(provider: Provider) -> bool:
    """Whether the tab offers "Verify credentials" for ``provider``."""
    return provider.can_verify_credentials


def verify_credentials(provider: Provider, values: Mapping[str, str]) -> Verification:
    """Ask the provider whether ``values`` work (its
    :meth:`~cms_social_login.providers.base.Provider.verify_credentials`); a provider
    that fails on the way answers "could not tell", never an error page; an address the
    site's own policy refuses is named as such (no network problem to look for)."""
    try:
        return provider.verify_credentials(values)
    except ProviderError as error:
        return Verification.unanswered(error, provider.title, _(
            "Could not reach ${title}. Check the network and try again; nothing was stored.",
            mapping={"title": provider.title}))
