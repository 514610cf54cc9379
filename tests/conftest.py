"""Shared fixtures: seeds, datasets folder, databases.

Environment switches (all optional):
- PLANTPULSE_DATASETS: folder with the full public datasets; `real_data` tests skip without it.
- PLANTPULSE_TEST_POSTGRES_URL: a PostgreSQL URL; `postgres` tests skip without it.

The session fails when a PlantPulse, Streamlit or OPC-UA simulator process it started is still
running at its end (see ``process_guard``): every test stops what it starts.
"""

from __future__ import annotations

import os
import random
import uuid
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import psutil
import pytest
from process_guard import SESSION_MARK, describe, leftovers

DEFAULT_SEED = 20240607


@pytest.fixture(scope="session", autouse=True)
def no_process_left_behind() -> Iterator[None]:
    """Fail the session if a process the tests started outlives it (and stop that process)."""
    token = uuid.uuid4().hex
    os.environ[SESSION_MARK] = token  # inherited by every process the tests start
    already = {p.pid for p in leftovers(token)}
    yield
    remaining = [p for p in leftovers(token) if p.pid not in already]
    _, remaining = psutil.wait_procs(remaining, timeout=5)  # some may be on their way out
    if remaining:
        found = describe(remaining)
        for process in remaining:
            try:
                process.kill()
            except psutil.NoSuchProcess:
                pass
        pytest.fail(f"{len(remaining)} processes started by the tests were still running at the end "
                    f"(now killed): {found}. Each test must stop the processes it starts.", pytrace=False)


@pytest.fixture
def seed() -> int:
    """Seed every RNG the project uses; printed on failure through pytest's -ra summary."""
    value = int(os.environ.get("PLANTPULSE_TEST_SEED", DEFAULT_SEED))
    random.seed(value)
    np.random.seed(value)
    try:
        import torch

        torch.manual_seed(value)
    except ImportError:  # pragma: no cover - torch is a hard dependency
        pass
    return value


@pytest.fixture
def rng(seed: int) -> np.random.Generator:
    return np.random.default_rng(seed)


@pytest.fixture(scope="session")
def datasets_dir() -> Path:
    """The full public datasets folder, or skip the test when it is not configured."""
    value = os.environ.get("PLANTPULSE_DATASETS")
    if not value:
        pytest.skip("PLANTPULSE_DATASETS is not set: real-data test skipped")
    path = Path(value)
    if not path.is_dir():
        pytest.fail(f"PLANTPULSE_DATASETS={value} is not a folder")
    return path


@pytest.fixture(scope="session")
def postgres_url() -> str:
    """URL of a real PostgreSQL server for `postgres` tests, or skip."""
    value = os.environ.get("PLANTPULSE_TEST_POSTGRES_URL")
    if not value:
        pytest.skip("PLANTPULSE_TEST_POSTGRES_URL is not set: PostgreSQL test skipped")
    return value


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Tests marked `real_data` must request the datasets folder, so they can never run blind."""
    for item in items:
        if item.get_closest_marker("real_data") and "datasets_dir" not in getattr(
            item, "fixturenames", ()
        ):
            item.add_marker(pytest.mark.skip(reason="real_data test without datasets_dir fixture"))


def _admin_connect(url: str):
    import psycopg
    from sqlalchemy.engine import make_url

    parsed = make_url(url).set(drivername="postgresql")
    return psycopg.connect(parsed.render_as_string(hide_password=False), autocommit=True)


@pytest.fixture(scope="session")
def pg_template(postgres_url: str):
    """A migrated PostgreSQL database used as the template of every per-test database."""
    import uuid

    from sqlalchemy.engine import make_url

    from plantpulse.data.store.db import Database

    name = f"pp_tmpl_{uuid.uuid4().hex[:10]}"
    with _admin_connect(postgres_url) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    url = make_url(postgres_url).set(database=name).render_as_string(hide_password=False)
    database = Database(url)
    database.upgrade()
    database.dispose()
    yield name
    with _admin_connect(postgres_url) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture
def pg_database_url(postgres_url: str, pg_template: str):
    """URL of a fresh, migrated, empty PostgreSQL database, dropped after the test."""
    import uuid

    from sqlalchemy.engine import make_url

    name = f"pp_test_{uuid.uuid4().hex[:10]}"
    with _admin_connect(postgres_url) as conn:
        conn.execute(f'CREATE DATABASE "{name}" TEMPLATE "{pg_template}"')
    yield make_url(postgres_url).set(database=name).render_as_string(hide_password=False)
    with _admin_connect(postgres_url) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def database(request: pytest.FixtureRequest, tmp_path: Path):
    """A fresh migrated database on each engine (PostgreSQL only when configured)."""
    from plantpulse.data.store.db import Database

    if request.param == "sqlite":
        db = Database(f"sqlite:///{tmp_path / 'plantpulse.db'}")
        db.upgrade()
    else:
        db = Database(request.getfixturevalue("pg_database_url"))
    yield db
    db.dispose()
