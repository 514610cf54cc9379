"""The plant the fit tests train on: five pumps' readings and their maintenance log (fit_support)."""

from __future__ import annotations

from pathlib import Path

import pytest
from fit_support import write_log, write_sensors

from plantpulse.connectors.logs.connector import LogOptions
from plantpulse.data.store.db import Database
from plantpulse.pipelines.ingest.entry import ingest_log_file, ingest_sensor_file

LOG = LogOptions(format="generic", mapping={"ts": "Date", "asset": "Equipment", "kind": "Kind", "code": "Code",
                                            "text": "Description"})


@pytest.fixture
def plant(database: Database, tmp_path: Path) -> Database:
    """Five pumps' readings and their maintenance log, ingested as a plant would."""
    ingest_sensor_file(database, write_sensors(tmp_path), create_assets=True, asset_type="pump")
    ingest_log_file(database, write_log(tmp_path), options=LOG)
    return database
