"""Fixtures of the dashboard tests: a database seeded once from the real sample, copied per test."""

from __future__ import annotations

import shutil
import sqlite3
from dataclasses import dataclass
from pathlib import Path

import pytest
from dashboard_seed import Seeded, seed_sample

from plantpulse.data.store.db import Database


@dataclass(frozen=True, slots=True)
class Plant:
    """A seeded PlantPulse home: database URL, home folder and what was seeded."""

    url: str
    home: Path
    seeded: Seeded


@pytest.fixture(autouse=True)
def fresh_login_limits(monkeypatch: pytest.MonkeyPatch) -> None:
    """Failed sign-ins are counted process-wide; each test starts with none."""
    from plantpulse.app import login_limits

    monkeypatch.setattr(login_limits, "_shared", {})


@pytest.fixture(scope="session")
def seeded_home(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Seeded]:
    home = tmp_path_factory.mktemp("seeded")
    db = Database(f"sqlite:///{home / 'plantpulse.db'}")
    db.upgrade()
    seeded = seed_sample(db, home / "images")
    db.dispose()
    with sqlite3.connect(home / "plantpulse.db") as raw:  # fold the WAL in so one file is a copy
        raw.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    return home, seeded


def _env(monkeypatch: pytest.MonkeyPatch, home: Path, url: str) -> None:
    for name in ("PLANTPULSE_DASHBOARD__PASSWORD", "PLANTPULSE_DASHBOARD__ENGINEER_PASSWORD",
                 "PLANTPULSE_DASHBOARD__PASSWORD_HASH", "PLANTPULSE_DASHBOARD__ENGINEER_PASSWORD_HASH",
                 "PLANTPULSE_CONFIG", "PLANTPULSE_DASHBOARD__OIDC"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("PLANTPULSE_HOME", str(home))
    monkeypatch.setenv("PLANTPULSE_DATABASE_URL", url)
    monkeypatch.setenv("PLANTPULSE_TIMEZONE", "Europe/Berlin")


@pytest.fixture
def plant(seeded_home: tuple[Path, Seeded], tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Plant:
    """A private copy of the seeded home (tests may write), wired into the environment."""
    source, seeded = seeded_home
    home = tmp_path / "home"
    home.mkdir()
    shutil.copyfile(source / "plantpulse.db", home / "plantpulse.db")
    shutil.copytree(source / "images", home / "images")
    url = f"sqlite:///{home / 'plantpulse.db'}"
    _env(monkeypatch, home, url)
    return Plant(url, home, seeded)


@pytest.fixture
def empty_plant(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Plant:
    """A migrated database with nothing in it."""
    home = tmp_path / "empty"
    db = Database(f"sqlite:///{home / 'plantpulse.db'}")
    db.upgrade()
    db.dispose()
    _env(monkeypatch, home, db.url)
    return Plant(db.url, home, Seeded({}, 0, 0, 0, 0))
