"""``plantpulse demo``: the whole product on the bundled real sample, on one machine.

Steps (each idempotent, so a second run only serves): migrate the database; load the asset
registry, the sensor files, the maintenance logs and the weld images through the connectors;
register the shipped MoE students (``model/shipped/``, made by ``make shipped-model`` with
``plantpulse train``; ``model/shipped/README.md`` gives their figures beside the baselines): the
turbofans' RUL model (without its file, the quantile baseline trained on the sample's training
engines instead) and the bearings' fault model; fit the machines' 24 h failure-risk model (which
component fails within 24 h, else normal) from their telemetry and maintenance log with
``plantpulse fit`` (gradient boosting and the MoE on one split by machine, the best on validation
promoted); score every asset with the production model of its
type and raise alerts; inspect the weld images; serve the dashboard.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from pathlib import Path

import click
import numpy as np
import pandas as pd

from plantpulse.data.core.config.settings import Settings
from plantpulse.data.core.errors import PlantPulseError
from plantpulse.data.core.resources import sample_dir, shipped_dir
from plantpulse.data.store.db import Database, open_database
from plantpulse.data.store.repository import (
    current_model_version,
    promote_model_version,
    register_model_version,
)

log = logging.getLogger(__name__)

SAMPLE = sample_dir()
BASELINE_NAME = "rul-baseline"
STUDENT_NAME = "plantpulse-student"  # what `plantpulse score` uses by default
SHIPPED_STUDENT = shipped_dir() / "plantpulse-student-cmapss.safetensors"
BEARING_NAME = "plantpulse-bearing-student"
SHIPPED_BEARING_STUDENT = shipped_dir() / "plantpulse-student-cwru.safetensors"
AZURE_TEMPLATE = "azure-machine-{:03d}"
WELD_CELL = "weld-cell-01"


@dataclass(frozen=True, slots=True)
class Step:
    name: str
    run: Callable[[], str]


def _ingest_steps(settings: Settings, db: Database, sample: Path) -> list[Step]:
    from plantpulse.connectors.logs.connector import LogOptions
    from plantpulse.connectors.sensors.options import SensorOptions
    from plantpulse.pipelines.ingest import entry as ingest

    limit = settings.ingest.max_upload_mb

    def sensors(name: str, **opts: object) -> str:
        options = SensorOptions(timezone="UTC", chunk_rows=settings.ingest.chunk_rows, **opts)
        return ingest.describe(ingest.ingest_sensor_file(db, sample / "sensors" / name, options=options,
                                                         max_upload_mb=limit))

    def logs(name: str, **opts: object) -> str:
        return ingest.describe(ingest.ingest_log_file(db, sample / "logs" / name, options=LogOptions(**opts),
                                                      max_upload_mb=limit))

    def images() -> str:
        result = ingest.ingest_image_upload(db, sample / "weld", image_store=settings.image_store,
                                            asset=WELD_CELL)
        return ingest.describe(result)

    return [
        Step("asset registry", lambda: ingest.describe(ingest.load_asset_registry(db, sample / "assets.csv"))),
        Step("turbofan sensors", lambda: sensors("turbofan_fd001_test.csv", ignore_columns=("cycle",))),
        Step("machine telemetry", lambda: sensors("azure_telemetry.csv")),
        Step("bearing vibration", lambda: sensors("cwru_bearings_de_0hp.csv")),
        *(Step(f"log {n}", partial(logs, n, asset_template=AZURE_TEMPLATE))
          for n in ("PdM_errors.csv", "PdM_maint.csv", "PdM_failures.csv")),
        Step("aviation logbook", lambda: logs("maintnet_aviation_sample.csv")),
        Step("weld images", images),
    ]


def train_sample_baseline(sample: Path, out: Path, seed: int = 0) -> tuple[Path, dict[str, float]]:
    """Fit the RUL baseline on the sample's training engines; test RMSE on its test engines."""
    from plantpulse.model.baseline.quantile_mlp import BaselineRulModel, RunToFailure
    from plantpulse.model.metrics import coverage, rmse

    train = pd.read_csv(sample / "training" / "turbofan_fd001_train.csv")
    test = pd.read_csv(sample / "sensors" / "turbofan_fd001_test.csv")
    truth = pd.read_csv(sample / "training" / "turbofan_fd001_test_rul.csv").set_index("asset")
    channels = [c for c in train.columns if c.startswith(("setting_", "s_"))]
    runs = [RunToFailure(a, g[channels].to_numpy(float)) for a, g in train.groupby("asset", sort=True)]
    model = BaselineRulModel(channels).fit(runs, seed=seed)
    last = np.stack([_last_window(g[channels].to_numpy(float), model.window_length)
                     for _, g in test.groupby("asset", sort=True)])
    quantiles, _ = model.predict_arrays(last)
    y = np.minimum(truth.sort_index()["true_rul_cycles"].to_numpy(float), model.cap)
    metrics = {
        "test_engines": float(len(y)),
        "rmse_cycles": rmse(quantiles[:, 1], y),
        "interval80_coverage": coverage(y, quantiles[:, 0], quantiles[:, 2]),
    }
    return model.save(out, metrics), metrics


def _last_window(values: np.ndarray, length: int) -> np.ndarray:
    if len(values) < length:
        values = np.concatenate([np.repeat(values[:1], length - len(values), axis=0), values])
    return values[-length:]


def ensure_rul_model(settings: Settings, db: Database, sample: Path, shipped: Path = SHIPPED_STUDENT) -> str:
    """Register (and promote) the demo's RUL model unless one is already there; its name.

    The shipped MoE student when present (checked: a corrupted file is an error, not a
    fallback), else the quantile baseline trained on the sample's training engines.
    """
    with db.session() as session:
        for name in (STUDENT_NAME, BASELINE_NAME):
            if current_model_version(session, name) is not None:
                return name
    if shipped.is_file():
        _register_shipped(db, STUDENT_NAME, shipped)
        return STUDENT_NAME
    path, metrics = train_sample_baseline(sample, settings.model_dir / "rul-baseline.safetensors")
    with db.session() as session:
        version = register_model_version(
            session, name=BASELINE_NAME, kind="baseline", task="rul", path=str(path.resolve()),
            metrics=metrics, config={"trained_on": "data/sample/training (C-MAPSS FD001 engines 1-40)"},
        )
        promote_model_version(session, version.id)
    return BASELINE_NAME


def _register_shipped(db: Database, name: str, path: Path) -> None:
    """Register and promote a shipped MoE checkpoint (read and checked first: a corrupted file is
    an error, not a fallback)."""
    from plantpulse.data.core.hashing import sha256_file
    from plantpulse.model.moe.checkpoint import read_metadata

    meta = read_metadata(path)
    with db.session() as session:
        version = register_model_version(
            session, name=name, kind="student", task="multitask", path=str(path.resolve()),
            metrics=meta.metrics, config=meta.config.to_dict(), data_fingerprint=meta.data_fingerprint,
            sha256=sha256_file(path))
        promote_model_version(session, version.id)


def ensure_bearing_model(db: Database, shipped: Path = SHIPPED_BEARING_STUDENT) -> str:
    """Register (and promote) the shipped bearing-fault MoE student unless it is there; a message."""
    with db.session() as session:
        current = current_model_version(session, BEARING_NAME)
    if current is not None:
        return f"{BEARING_NAME} v{current.version} already in production"
    if not shipped.is_file():
        return f"skipped: no {shipped.name} in model/shipped/ (make shipped-model makes it); bearings are not scored"
    _register_shipped(db, BEARING_NAME, shipped)
    return (f"{BEARING_NAME} (the shipped MoE student, CWRU drive end; its figures beside the baselines: "
            "model/shipped/README.md)")


def _describe_rul_model(name: str) -> str:
    if name == STUDENT_NAME:
        return (f"{name} (the shipped MoE student; its figures beside the baselines: "
                "model/shipped/README.md)")
    return f"{name} (quantile MLP trained on the sample's 40 training engines)"


MACHINE_TYPE = "rotating_machine"  # the sample's Azure machines (assets.csv)
MACHINE_EPOCHS = 5  # the MoE's epochs at most in the demo's fit (a served page within about a minute)


def fit_machine_model(settings: Settings, db: Database) -> str:
    """Train the machines' 24 h failure-risk model the way a plant trains its own: `plantpulse fit`
    on the telemetry and the whole maintenance log (failures give the classes: which component
    fails within 24 h, else normal; errors and maintenance are inputs), every learner on the same
    split by machine, the best on validation promoted. Skipped when a version is already in
    production."""
    from plantpulse.pipelines.fit.job import run_fit
    from plantpulse.pipelines.fit.spec import FitSpec

    spec = FitSpec(asset_type=MACHINE_TYPE, target="class", event_codes=True, failure_kind="failure",
                   horizon_hours=24, window=24, stride=6, epochs=MACHINE_EPOCHS, seed=0)
    name = f"{spec.asset_type}-{spec.target}"
    with db.session() as session:
        current = current_model_version(session, name)
        if current is not None:
            return f"{name} v{current.version} ({current.kind}) already in production"
    result = run_fit(spec, db, settings.model_dir, settings.home / "reports" / name, echo=log.info,
                     show_progress=False)

    def figures(key: str) -> str:
        return ", ".join(f"{kind} {values.get(key, float('nan')):.3f}" for kind, values in result.metrics.items())

    return (f"validation macro-F1 {figures('val_macro_f1')} -> promoted {result.promoted} ({result.winner}); "
            f"held-out macro-F1 {figures('macro_f1')} (machines {', '.join(result.info['test_assets'])}); "
            f"report {result.report}")


def _score(settings: Settings, db: Database) -> str:
    from plantpulse.pipelines.score.job import request_from, run_scoring

    result = run_scoring(settings, db, request_from(settings))
    skipped = f"; not scored: {', '.join(a for a, _ in result.skipped)}" if result.skipped else ""
    return (f"{result.predictions} predictions for {result.considered} assets, "
            f"{len(result.new_alerts)} new alerts ({result.model}){skipped}")


def _inspect_welds(settings: Settings, sample: Path) -> str:
    from plantpulse.pipelines.weld import inspect as weld_inspect

    try:
        loaded = weld_inspect.choose_detector(settings, None, None, use_db=True)
    except PlantPulseError as err:  # no detector available is a message in the demo, not a crash
        return f"skipped: {err}"
    paths = sorted((sample / "weld" / "images").glob("*.jpg"))
    outcomes, rejected = weld_inspect.inspect_paths(settings, loaded, paths, True, lambda *_: None)
    return f"{len(outcomes)} images inspected, {len(rejected)} refused"


def run_demo(settings: Settings, sample: Path = SAMPLE, echo: Callable[[str], None] = click.echo) -> None:
    """Everything but serving: database, ingest, model, scoring, weld inspections."""
    from plantpulse.pipelines.ingest.entry import prepare_database

    db = open_database(settings)
    prepare_database(db)
    steps = [
        *_ingest_steps(settings, db, sample),
        Step("RUL model", lambda: _describe_rul_model(ensure_rul_model(settings, db, sample))),
        Step("bearing fault model", lambda: ensure_bearing_model(db)),
        Step("machine 24 h failure-risk model (fit)", lambda: fit_machine_model(settings, db)),
        Step("scoring", lambda: _score(settings, db)),
        Step("weld inspection", lambda: _inspect_welds(settings, sample)),
    ]
    for number, step in enumerate(steps, start=1):
        start = time.perf_counter()
        message = step.run()
        echo(f"[{number}/{len(steps)}] {step.name} ({time.perf_counter() - start:.1f} s): {message}")
    db.dispose()


@click.command()
@click.option("--sample", type=click.Path(exists=True, file_okay=False, path_type=Path), default=SAMPLE,
              show_default="data/sample", help="Folder with the sample to load.")
@click.option("--port", default=8501, show_default=True, type=click.IntRange(1, 65535))
@click.option("--serve/--no-serve", default=True, show_default=True, help="Serve the dashboard at the end.")
@click.pass_obj
def demo(settings: Settings, sample: Path, port: int, serve: bool) -> None:
    """Load the bundled real sample, train or load a model, score, and serve the dashboard.

    State goes to the home folder (default .plantpulse/: SQLite database, images, models).
    Running it again skips what is already loaded and goes straight to the dashboard.
    """
    run_demo(settings, sample)
    if serve:
        from plantpulse.pipelines.cli.dashboard import dashboard

        click.get_current_context().invoke(dashboard, address="127.0.0.1", port=port)
