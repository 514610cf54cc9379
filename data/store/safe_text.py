"""Text every supported database stores: NUL bytes and lone surrogates written as escapes.

PostgreSQL refuses a NUL character in text (``DataError``), and neither psycopg nor sqlite3 can
encode a lone surrogate (U+D800..U+DFFF: undecodable input bytes kept by ``surrogateescape``, or
an unpaired ``\\udc80`` escape in JSON). Quarantined input must still be stored to be seen, so
such characters are written as the backslash escapes ``\\x00`` and ``\\udc80``; all other text
is kept as it is (backslashes already in the input are not doubled).
"""

from __future__ import annotations

import re

_UNSTORABLE = re.compile("[\x00\ud800-\udfff]")


def _escape(match: re.Match[str]) -> str:
    char = match.group()
    return "\\x00" if char == "\x00" else f"\\u{ord(char):04x}"


def storable(text: str) -> str:
    """``text`` with NUL and lone surrogates escaped (unchanged, and fast, when it has none)."""
    return _UNSTORABLE.sub(_escape, text) if _UNSTORABLE.search(text) else text


def storable_or_none(text: str | None) -> str | None:
    return None if text is None else storable(text)
