"""What one process of the add-on remembers between requests, and how to forget it.

Everything lives on the application's registry (no module state): the published settings
of each site and the rendered anonymous login pages (:mod:`.services.published`), the
watch of Saves, the last sweeps of ended sessions, used login states and old audit rows,
the login form's derived keys, the returning login's statements (:mod:`.session`,
:mod:`.services.sso`, :mod:`.services.audit`, :mod:`.services.identities`), and what
each provider instance keeps (connections and call slots of its HTTP client, OpenID
Connect discovery documents and key sets:
:meth:`.providers.base.Provider.forget_cached_state`).

:func:`forget_cached_state` leaves a running application as a freshly started one with the
same settings: the next request reads everything from the database again. A site never
needs it (a Save is seen by every process through the watch); the test kit calls it to
hand one application to many tests, each on a database reset to the same first start.
"""

from __future__ import annotations

from typing import Any

from .providers.registry import get_provider_registry
from .services import audit, identities, published, sso
from .session import PROCESS_STATE_KEYS as SESSION_STATE_KEYS

__all__ = ["PROCESS_STATE_KEYS", "forget_cached_state"]

#: Every registry key under which the add-on keeps something between requests (each
#: module declares its own).
PROCESS_STATE_KEYS = (*published.PROCESS_STATE_KEYS, *audit.PROCESS_STATE_KEYS,
                      *sso.PROCESS_STATE_KEYS, *identities.PROCESS_STATE_KEYS,
                      *SESSION_STATE_KEYS)


def forget_cached_state(registry: Any) -> None:
    """Forget what the application of ``registry`` remembers between requests (see the
    module's text), as if it had just started. Call it between requests, not during one."""
    for key in PROCESS_STATE_KEYS:
        registry.pop(key, None)
    for provider in get_provider_registry(registry):
        provider.forget_cached_state()
