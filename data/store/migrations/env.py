"""Alembic environment: runs migrations on the connection PlantPulse hands over (or the URL)."""

from __future__ import annotations

from alembic import context
from sqlalchemy import create_engine

from plantpulse.data.core.errors import ConfigError
from plantpulse.data.store.schema import Base

config = context.config
target_metadata = Base.metadata


def _url() -> str:
    url = config.get_main_option("sqlalchemy.url")
    if not url:
        msg = ("The Alembic configuration has no sqlalchemy.url. Run migrations through "
               "`plantpulse db upgrade` (or Database(url).upgrade()), which sets it.")
        raise ConfigError(msg)
    return url


def _run(connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online() -> None:
    connection = config.attributes.get("connection")
    if connection is not None:
        _run(connection)
        return
    engine = create_engine(_url())
    with engine.begin() as conn:
        _run(conn)


if context.is_offline_mode():
    context.configure(url=config.get_main_option("sqlalchemy.url"), target_metadata=target_metadata,
                      literal_binds=True)
    with context.begin_transaction():
        context.run_migrations()
else:
    run_migrations_online()
