"""Housekeeping each process does now and then, not at every request.

Ended sessions, used login states and old audit rows are swept by the request that finds
the sweep due: each process sweeps at most once per interval, and remembers when on the
application's registry (under a key the module that sweeps lists in its
``PROCESS_STATE_KEYS``, see :mod:`cms_social_login.cached_state`).
"""

from __future__ import annotations

from typing import Any


def due(registry: Any, key: str, interval: float, moment: float) -> bool:
    """Whether the sweep kept under ``key`` is due at ``moment`` (seconds, of any clock
    the caller always uses for ``key``): never done by this process, done ``interval``
    seconds ago or more, or the clock went back since. When due, ``moment`` is recorded
    as the sweep's time."""
    last = registry.get(key)
    if last is not None and 0 <= moment - last < interval:
        return False
    registry[key] = moment
    return True
