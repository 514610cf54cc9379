"""Start the Streamlit server with the dashboard already loaded.

``streamlit run`` imports a page's modules (pandas, Altair, SQLAlchemy, the PlantPulse views) only
when the first visitor arrives, which makes the first page after a restart several seconds
slower than every later one. Streamlit runs page scripts inside its own process, so importing
those modules here first, opening the database pool and drawing one chart, moves that cost to
start-up: ``python -m plantpulse.app.serve <streamlit run options>``.

It also makes the server keep uploads in PlantPulse's guarded store (signed-in engineers only,
bounded per session: :mod:`plantpulse.app.upload_guard`) and sets Streamlit's per-file upload
limit (``server.maxUploadSize``) from ``ingest.max_upload_mb`` unless the options give one.
"""

from __future__ import annotations

import importlib
import logging
import math
import sys
import time
from pathlib import Path

APP = Path(__file__).resolve().parent / "main.py"
log = logging.getLogger("plantpulse.dashboard")


def preload() -> float:
    """Import the views, open the database pool and render one chart; returns seconds spent."""
    started = time.perf_counter()
    import pandas as pd

    from plantpulse.app.views import PAGES
    from plantpulse.app.widgets import charts
    from plantpulse.data.core.config.settings import load_settings

    for view, _, _ in PAGES:
        importlib.import_module(f"plantpulse.app.views.{view}")
    charts.survival(pd.DataFrame({"time": [0.0, 1.0], "survival": [1.0, 0.5]}), "t", None).to_dict()
    _tables()
    try:
        from plantpulse.app.queries.sql import database, problem
        from plantpulse.data.store.db_errors import DATABASE_ERRORS

        settings = load_settings()
        try:
            database(settings.db_url).require_current()
        except DATABASE_ERRORS as err:
            log.warning("dashboard preload: %s", problem(err, settings.db_url))
    except Exception as err:
        log.warning("dashboard preload could not check the database: %s", err)
    return time.perf_counter() - started


def _tables() -> None:
    """First use of Arrow and of a pandas Styler (what st.dataframe does) loads their machinery."""
    import pandas as pd
    import pyarrow as pa

    frame = pd.DataFrame({"state": ["ok"], "value": [1.0]})
    pa.Table.from_pandas(frame)
    frame.style.map(lambda _: "color: #2da44e", subset=["state"]).to_html()


def upload_options(args: list[str], max_upload_mb: float) -> list[str]:
    """``args`` with Streamlit's per-file upload limit from the settings, unless already given."""
    if any(arg.startswith("--server.maxUploadSize") for arg in args):
        return args
    return [*args, "--server.maxUploadSize", str(max(1, math.ceil(max_upload_mb)))]


def main() -> None:
    from plantpulse.app import upload_guard
    from plantpulse.data.core.config.settings import load_settings
    from plantpulse.data.core.errors import PlantPulseError

    try:
        settings = load_settings()
    except PlantPulseError as err:
        print(f"error: {err}", file=sys.stderr)
        sys.exit(2)
    upload_guard.install(upload_guard.limits_from(settings))  # before the server is created
    spent = preload()
    print(f"PlantPulse dashboard loaded in {spent:.1f} s", file=sys.stderr)
    from streamlit.web import cli

    args = upload_options(sys.argv[1:], settings.ingest.max_upload_mb)
    sys.argv = ["streamlit", "run", str(APP), *args]
    sys.exit(cli.main())


if __name__ == "__main__":
    main()
