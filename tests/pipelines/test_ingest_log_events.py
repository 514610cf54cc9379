"""Maintenance events in the database: the same narrative written for different jobs is stored
once per job, and an overlapping export still adds nothing twice (both engines)."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import func, select

from plantpulse.data.store.db import Database
from plantpulse.data.store.schema import MaintenanceEvent
from plantpulse.pipelines.ingest.entry import ingest_log_file

ROW = "2024-01-01,p1,Replaced filter\n"


def test_identical_narratives_are_stored_as_separate_events(database: Database, tmp_path: Path) -> None:
    january = tmp_path / "jan.csv"
    january.write_text("Date,Equipment,Description\n" + ROW * 2, encoding="utf-8")
    result = ingest_log_file(database, january, create_assets=True)
    assert (result.loaded, result.duplicates) == (2, 0)
    overlap = tmp_path / "jan-feb.csv"
    overlap.write_text("Date,Equipment,Description\n" + ROW * 2 + "2024-02-01,p1,Replaced filter\n", encoding="utf-8")
    result = ingest_log_file(database, overlap)
    assert (result.loaded, result.duplicates, result.quarantined) == (1, 2, 0)
    with database.session() as s:
        assert s.scalar(select(func.count()).select_from(MaintenanceEvent)) == 3
