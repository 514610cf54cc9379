"""Which text encoding a log export is read in: a byte-order mark decides, else the option.

CMMS exports from Windows tools are often UTF-16 with a byte-order mark (BOM); read as UTF-8 they
turn into garbled column names. A BOM for UTF-8, UTF-16 or UTF-32 picks the codec; a BOM that
contradicts an explicit ``--encoding`` is an error, and UTF-16/32 text without a BOM (NUL bytes
between the characters) is refused with the fix, rather than read as garbage.
"""

from __future__ import annotations

import codecs
from pathlib import Path

from plantpulse.data.core.errors import ConfigError, InputDataError

# UTF-32 first: its little-endian mark begins with UTF-16's.
_BOMS = ((codecs.BOM_UTF32_LE, "utf-32", "UTF-32LE"), (codecs.BOM_UTF32_BE, "utf-32", "UTF-32BE"),
         (codecs.BOM_UTF8, "utf-8-sig", "UTF-8"), (codecs.BOM_UTF16_LE, "utf-16", "UTF-16LE"),
         (codecs.BOM_UTF16_BE, "utf-16", "UTF-16BE"))
_FAMILIES = {"utf-8": "utf-8", "utf-8-sig": "utf-8", "utf-16": "utf-16", "utf-16-le": "utf-16",
             "utf-16-be": "utf-16", "utf-32": "utf-32", "utf-32-le": "utf-32", "utf-32-be": "utf-32"}
_SNIFF = 4096


def _family(codec: str) -> str | None:
    return _FAMILIES.get(codec)


def file_encoding(path: Path, requested: str, label: str) -> str:
    """The codec to read ``path`` with, given the ``requested`` one (``--encoding``)."""
    try:
        codec = codecs.lookup(requested).name
    except LookupError as err:
        raise ConfigError(f"Unknown text encoding {requested!r}; use e.g. utf-8, utf-16 or cp1252.") from err
    try:
        with path.open("rb") as handle:
            head = handle.read(_SNIFF)
    except OSError as err:
        raise InputDataError(f"{label}: cannot read the file ({err.strerror or err}).") from err
    for bom, bom_codec, name in _BOMS:
        if head.startswith(bom):
            if _family(codec) in (_family(bom_codec), "utf-8"):
                return bom_codec
            msg = (f"{label}: the file starts with a {name} byte-order mark, but --encoding is {requested!r}; "
                   "leave --encoding out (the mark decides) or convert the file "
                   f"(iconv -f {name} -t UTF-8).")
            raise ConfigError(msg)
    if _family(codec) in ("utf-16", "utf-32"):
        return codec
    nul = head.count(b"\x00")
    if head and nul * 4 >= len(head):
        option, iconv = ("utf-16-le", "UTF-16LE") if head[1:2] == b"\x00" else ("utf-16-be", "UTF-16BE")
        msg = (f"{label}: this looks like UTF-16 or UTF-32 text without a byte-order mark ({nul} of the "
               f"first {len(head)} bytes are NUL), not {requested}; pass --encoding {option} or convert "
               f"it (iconv -f {iconv} -t UTF-8).")
        raise InputDataError(msg)
    return codec
