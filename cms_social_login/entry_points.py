"""The installed entry points of a group, scanned once per state of ``sys.path``.

``importlib.metadata.entry_points()`` reads the metadata of every installed distribution,
milliseconds at each start of a site (and tests build hundreds of sites per process). The
answer is kept per process for as long as ``sys.path`` lists the same folders and none of
them changed: installing or removing a package adds or removes a ``*.dist-info`` folder,
which changes the folder's modification time (the same signal Python's own import caches
use). A folder put on ``sys.path`` for a while (a plugin installed into a folder of its
own) is a new state, and its removal brings the earlier answer back.
"""

from __future__ import annotations

import functools
import os
import sys
from importlib.metadata import EntryPoint, entry_points

#: Distinct ``sys.path`` states remembered (a process sees a handful).
_STATES_KEPT = 16


def installed_entry_points(group: str) -> tuple[EntryPoint, ...]:
    """The entry points of ``group`` installed on the current ``sys.path``."""
    return _scan(group, _path_state())


@functools.lru_cache(maxsize=_STATES_KEPT)
def _scan(group: str, _state: tuple[tuple[str, int | None], ...]) -> tuple[EntryPoint, ...]:
    return tuple(entry_points(group=group))


def _path_state() -> tuple[tuple[str, int | None], ...]:
    """Each ``sys.path`` folder (``""`` as the current folder) with its modification time
    (None for an entry that is no folder: a zip file's time, or a path hook's name)."""
    state = []
    for entry in sys.path:
        folder = entry or os.getcwd()
        try:
            state.append((folder, os.stat(folder).st_mtime_ns))
        except OSError:
            state.append((folder, None))
    return tuple(state)
