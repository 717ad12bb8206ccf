"""Log lines that a visitor cannot forge: request-derived values are escaped first.

A provider name from the URL, a ``came_from``, a provider's error text or a failure's
cause may hold a newline (``%0a`` in a path), other control characters, or Unicode that
reorders or breaks a line (U+2028, U+202E). :func:`loggable` turns each such character
into a visible escape, so one log call is always one line of the operator's log.
"""

from __future__ import annotations

import unicodedata

#: Longest value a log line carries; longer ones are cut and end with "...".
MAX_LOGGED = 500
#: Control, format (bidi overrides, zero-width), line and paragraph separators, and lone
#: surrogates (undecodable bytes of a URL).
_UNSAFE_CATEGORIES = frozenset({"Cc", "Cf", "Zl", "Zp", "Cs"})


def _escape(char: str) -> str:
    if char == "\\":
        return "\\\\"
    if unicodedata.category(char) not in _UNSAFE_CATEGORIES:
        return char
    code = ord(char)
    if code < 0x100:
        return f"\\x{code:02x}"
    return f"\\u{code:04x}" if code < 0x10000 else f"\\U{code:08x}"


def loggable(value: object, limit: int = MAX_LOGGED) -> str:
    """``value`` as text safe for one log line: escaped, at most ``limit`` characters.

    ``None`` becomes ``-``; a backslash is doubled, so an escape in the output always
    stands for the character it names.
    """
    if value is None:
        return "-"
    text = value if isinstance(value, str) else str(value)
    cut = len(text) > limit
    escaped = "".join(_escape(char) for char in text[:limit])
    return escaped + "..." if cut else escaped
