"""The life of one ingest batch: size check, content hash, one transaction, a summary.

Everything one file brings (readings, events, images, quarantined rows, the batch row and its
summary) is written in one transaction: a crash or a kill leaves all of it or none of it. A run
that fails is rolled back, then recorded as a 'failed' batch in a transaction of its own.
"""

from __future__ import annotations

import logging
import time
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from plantpulse.data.core.errors import InputDataError, PlantPulseError, UploadRejectedError
from plantpulse.data.core.records import Rejection
from plantpulse.data.core.times import utcnow
from plantpulse.data.store.db import Database
from plantpulse.data.store.db_errors import brief
from plantpulse.data.store.repository import find_committed_batch, quarantine
from plantpulse.data.store.safe_text import storable
from plantpulse.data.store.schema import IngestBatch
from plantpulse.pipelines.ingest.removal import check_removable, remove_batch

log = logging.getLogger(__name__)
Progress = Callable[[int], None]


class IngestFailedError(PlantPulseError):
    """An ingest run failed; nothing of it was stored and a 'failed' batch records why."""


def check_upload(path: Path, max_mb: float, what: str = "file") -> int:
    """Size of ``path`` in bytes, or an UploadRejectedError when it is missing or too large."""
    if not path.exists():
        raise InputDataError(f"{path}: no such {what}. Check the path.")
    size = path.stat().st_size if path.is_file() else sum(p.stat().st_size for p in path.rglob("*") if p.is_file())
    if size > max_mb * 1024 * 1024:
        msg = (f"{path.name}: {size / 1024 / 1024:.1f} MB is more than the upload limit of "
               f"{max_mb:g} MB; split the file or raise ingest.max_upload_mb.")
        raise UploadRejectedError(msg)
    return size


@dataclass(slots=True)
class BatchStats:
    """Counts gathered while a batch runs; becomes the batch row's columns and summary."""

    rows_total: int = 0
    loaded: int = 0
    duplicates: int = 0
    rejections: Counter[str] = field(default_factory=Counter)
    details: dict[str, Any] = field(default_factory=dict)

    @property
    def quarantined(self) -> int:
        return sum(self.rejections.values())

    def summary(self) -> dict[str, Any]:
        return {**self.details, "rows_total": self.rows_total, "loaded": self.loaded,
                "duplicates": self.duplicates, "quarantined": self.quarantined,
                "quarantine_reasons": dict(sorted(self.rejections.items()))}


@dataclass(slots=True)
class OpenBatch:
    """The batch being written: its row, session and counters."""

    batch: IngestBatch
    session: Session
    stats: BatchStats

    @property
    def id(self) -> int:
        return self.batch.id

    def quarantine(self, rejections: Sequence[Rejection]) -> None:
        if rejections:
            quarantine(self.session, self.batch.id, rejections)
            self.stats.rejections.update(r.code or "other" for r in rejections)


@dataclass(frozen=True, slots=True)
class IngestResult:
    """What became of one ingested file."""

    status: str  # committed | skipped
    connector: str
    source: str
    batch_id: int
    rows_total: int = 0
    loaded: int = 0
    duplicates: int = 0
    quarantined: int = 0
    summary: dict[str, Any] = field(default_factory=dict)
    message: str = ""


def _already(batch: IngestBatch, connector: str, source: str) -> IngestResult:
    when = batch.finished_at.isoformat(timespec="seconds") if batch.finished_at else "earlier"
    message = (f"{source}: already ingested as batch {batch.id} ({batch.source}, {when}); "
               "nothing to do. To load it again with other options, pass --replace (replaces "
               f"batch {batch.id} in one transaction).")
    return IngestResult("skipped", connector, source, batch.id, batch.rows_total, 0, 0, 0,
                        dict(batch.summary or {}), message)


def _record_failure(db: Database, connector: str, source: str, sha: str, err: BaseException) -> int | None:
    """The id of a new 'failed' batch row; None (never an exception) when it cannot be written."""
    try:
        with db.session() as session:
            failed = IngestBatch(connector=connector, source=source[:512], content_sha256=sha,
                                 status="failed", finished_at=utcnow(), error=storable(f"{type(err).__name__}: {err}"),  # messages may quote input
                                 summary={"error": storable(str(err))})
            session.add(failed)
            session.flush()
            return failed.id
    except Exception as record_err:  # a failure handler must not replace the failure
        log.warning("Could not record the failed ingest of %s: %s", source, brief(record_err))
        return None


def _same_file_committed(err: IntegrityError) -> bool:
    """True when the error is the one-committed-batch-per-file index (a concurrent ingest)."""
    text = str(err)
    return "uq_ingest_batches_committed_file" in text or "ingest_batches.content_sha256" in text


@contextmanager
def open_batch(db: Database, connector: str, source: str, sha: str,
               replaces: int | None = None) -> Iterator[OpenBatch]:
    """One transaction for the whole batch; on failure roll back and record a failed batch.
    ``replaces``: an earlier batch removed in the same transaction (all of it, or none of it)."""
    started = time.perf_counter()
    try:
        with db.session() as session:
            # A replacing batch is added first (under another status, so the one-committed-batch-
            # per-file index allows it) and so gets a new id; no one ever sees that status.
            batch = IngestBatch(connector=connector, source=source[:512], content_sha256=sha,
                                status="committed" if replaces is None else "replacing")
            session.add(batch)
            session.flush()
            handle = OpenBatch(batch, session, BatchStats())
            if replaces is not None:
                handle.stats.details["replaced"] = remove_batch(session, replaces).as_dict()
                batch.status = "committed"
                session.flush()
            yield handle
            stats = handle.stats
            stats.details["seconds"] = round(time.perf_counter() - started, 3)
            batch.rows_total, batch.rows_loaded = stats.rows_total, stats.loaded
            batch.rows_quarantined, batch.rows_duplicate = stats.quarantined, stats.duplicates
            batch.summary, batch.finished_at = stats.summary(), utcnow()
    except (Exception, KeyboardInterrupt) as err:
        if isinstance(err, IntegrityError) and _same_file_committed(err):
            raise
        batch_id = _record_failure(db, connector, source, sha, err)
        if batch_id is None:
            raise  # the database itself failed; the entry point says so in one line
        log.error("ingest of %s failed (batch %s): %s", source, batch_id, brief(err))
        msg = f"{source}: ingest failed and nothing was stored (failed batch {batch_id}): {brief(err)}"
        kind = UploadRejectedError if isinstance(err, UploadRejectedError) else IngestFailedError
        raise kind(msg) from err


def previous_batch(db: Database, connector: str, sha: str) -> IngestBatch | None:
    with db.session() as session:
        return find_committed_batch(session, connector, sha)


def stored_nothing(batch: IngestBatch) -> bool:
    """A committed batch all of whose rows were quarantined: it holds nothing a re-run could
    duplicate, so it must not block a corrected re-run of the same file."""
    return batch.rows_loaded == 0 and batch.rows_duplicate == 0


def _same_source(db: Database, connector: str, source: str) -> int | None:
    """The one committed batch of ``source`` read by ``connector`` (what --replace replaces when
    the content changed), None when there is none; several are ambiguous and refused."""
    with db.session() as session:
        found = session.scalars(select(IngestBatch.id).where(
            IngestBatch.connector == connector, IngestBatch.source == source[:512],
            IngestBatch.status == "committed").order_by(IngestBatch.id)).all()
    if len(found) > 1:
        msg = (f"{source}: --replace cannot tell which earlier batch to replace: batches "
               f"{', '.join(map(str, found))} all came from a file of this name. Remove the one you mean "
               "with `plantpulse db batches delete N`, then ingest without --replace.")
        raise PlantPulseError(msg)
    return found[0] if found else None


def _target(db: Database, connector: str, source: str, sha: str, replace: bool
            ) -> tuple[int | None, IngestBatch | None]:
    """(batch this run replaces, batch that makes it a no-op): at most one is set."""
    earlier = previous_batch(db, connector, sha)
    if earlier is not None and not (replace or stored_nothing(earlier)):
        return None, earlier
    target = earlier.id if earlier is not None else (_same_source(db, connector, source) if replace else None)
    if target is not None:
        with db.session() as session:
            check_removable(session, target)
    return target, None


def run_once(db: Database, connector: str, source: str, sha: str,
             work: Callable[[OpenBatch], None], *, replace: bool = False) -> IngestResult:
    """Run ``work`` inside one batch unless this content was ingested already.

    The same content committed before makes the run a no-op, unless that batch stored nothing
    (every row quarantined) or ``replace`` is set: then the earlier batch is removed in the same
    transaction. With ``replace`` and new content, the earlier batch of the same source name is
    replaced (see :mod:`plantpulse.pipelines.ingest.removal`)."""
    replaces, earlier = _target(db, connector, source, sha, replace)
    if earlier is not None:
        return _already(earlier, connector, source)
    try:
        with open_batch(db, connector, source, sha, replaces) as batch:
            work(batch)
    except IntegrityError as err:  # the same file committed meanwhile by another process
        earlier = previous_batch(db, connector, sha)
        if earlier is None:
            raise IngestFailedError(f"{source}: ingest failed: {err}") from err
        return _already(earlier, connector, source)
    stats = batch.stats
    return IngestResult("committed", connector, source, batch.id, stats.rows_total, stats.loaded,
                        stats.duplicates, stats.quarantined, stats.summary())
