"""Engines, migrations and the schema they produce."""

from __future__ import annotations

from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect

from plantpulse.data.core.errors import ConfigError
from plantpulse.data.store.db import Database, SchemaOutOfDateError, normalize_url
from plantpulse.data.store.schema import Base

TABLES = {
    "alerts", "assets", "channels", "ingest_batches", "job_runs", "maintenance_events",
    "model_versions", "predictions", "quarantined_rows", "sensor_readings", "weld_images",
    "weld_inspections", "weld_labels",
}


def test_migrations_create_exactly_the_orm_schema(database: Database) -> None:
    with database.engine.connect() as conn:
        context = MigrationContext.configure(conn, opts={"compare_type": True})
        assert compare_metadata(context, Base.metadata) == []
    assert TABLES <= set(inspect(database.engine).get_table_names())


def test_upgrade_is_idempotent_and_reports_head(database: Database) -> None:
    database.upgrade()
    assert database.current_revision() == database.head_revision()
    database.require_current()


def test_readings_are_clustered_on_asset_time_channel(database: Database) -> None:
    pk = inspect(database.engine).get_pk_constraint("sensor_readings")
    assert pk["constrained_columns"] == ["asset_id", "ts", "channel_id"]


def test_empty_database_asks_for_upgrade(tmp_path: Path) -> None:
    db = Database(f"sqlite:///{tmp_path / 'new.db'}")
    with pytest.raises(SchemaOutOfDateError, match="Run `plantpulse db upgrade`"):
        db.require_current()


def test_postgres_urls_use_psycopg3() -> None:
    assert normalize_url("postgresql://u@h:5432/d").startswith("postgresql+psycopg://")


@pytest.mark.parametrize("url", ["not a url", "mysql://root@localhost/x"], ids=["garbage", "mysql"])
def test_bad_database_urls_fail_clearly(url: str) -> None:
    with pytest.raises(ConfigError, match="SQLAlchemy URL|Unsupported database"):
        normalize_url(url)


def test_sqlite_file_folder_is_created(tmp_path: Path) -> None:
    db = Database(f"sqlite:///{tmp_path / 'a' / 'b' / 'p.db'}")
    db.upgrade()
    assert (tmp_path / "a" / "b" / "p.db").is_file()
