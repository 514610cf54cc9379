"""Database guards: the driver connection behind a Connection, and migrations without a URL."""

from __future__ import annotations

import sqlite3
from types import SimpleNamespace

import pytest
from alembic import command
from alembic.config import Config

from plantpulse.data.core.errors import ConfigError, PlantPulseError
from plantpulse.data.store.db import MIGRATIONS_DIR, Database, driver_connection


def test_driver_connection_is_the_drivers_own(database: Database) -> None:
    with database.engine.connect() as connection:
        raw = driver_connection(connection)
        assert raw is connection.connection.driver_connection
        assert isinstance(raw, sqlite3.Connection) or connection.dialect.name == "postgresql"


def test_a_connection_without_a_driver_connection_says_what_to_do() -> None:
    detached = SimpleNamespace(connection=SimpleNamespace(driver_connection=None))
    with pytest.raises(PlantPulseError, match="no driver connection.*open a new session"):
        driver_connection(detached)  # a stand-in for a Connection whose pool entry lost its driver


def test_migrations_without_a_url_name_the_command_to_use() -> None:
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
    with pytest.raises(ConfigError, match="no sqlalchemy.url.*plantpulse db upgrade"):
        command.upgrade(cfg, "head")
