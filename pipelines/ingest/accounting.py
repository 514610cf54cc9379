"""The last check of an ingest run: a non-empty file must account for something.

A file that yields no stored, duplicate or quarantined row (and no row of only empty cells) was
not understood: line breaks the reader did not see, a quote that swallowed the rest, a wrong
delimiter. Committing it as an empty batch would report success for a silent loss, so the run
fails instead: nothing is stored, a 'failed' batch records why, and the CLI exits non-zero.
"""

from __future__ import annotations

from plantpulse.data.core.errors import InputDataError
from plantpulse.pipelines.ingest.batch import OpenBatch


def require_something(batch: OpenBatch, source: str, size: int, what: str, *, accounted: int = 0) -> None:
    """Raise :class:`InputDataError` when ``size`` bytes gave nothing; ``what`` names the rows
    ("data rows", "records"); ``accounted`` counts rows kept on purpose without a value."""
    stats = batch.stats
    if size == 0 or stats.loaded or stats.duplicates or stats.quarantined or accounted:
        return
    if stats.rows_total == 0:
        found = f"no {what} were found in its {size:,} bytes"
    else:
        found = f"{stats.rows_total:,} {what} were read but none was stored or quarantined"
    msg = (f"{source}: {found}, so nothing was ingested. Check that the file has {what} after its "
           "header, that its lines end with \\n, \\r\\n or \\r, that every quote (\") is closed, and "
           "the delimiter (--delimiter).")
    raise InputDataError(msg)
