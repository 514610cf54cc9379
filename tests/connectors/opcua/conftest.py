"""Fixtures of the OPC-UA tests (helpers live in ``opcua_support``)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from opcua_support import SimProcess

from plantpulse.data.store.db import Database


@pytest.fixture
def sims(tmp_path: Path) -> Iterator[list[SimProcess]]:
    """Simulators started by a test; every one is stopped afterwards, whatever happened."""
    started: list[SimProcess] = []
    yield started
    for sim in started:
        sim.kill()


@pytest.fixture
def sqlite_db(tmp_path: Path) -> Iterator[Database]:
    db = Database(f"sqlite:///{tmp_path / 'plantpulse.db'}")
    db.upgrade()
    yield db
    db.dispose()
