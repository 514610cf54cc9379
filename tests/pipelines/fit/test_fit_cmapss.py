"""``plantpulse fit`` on NASA C-MAPSS FD001 brought in as a plant's own files, checked against the
evaluation protocol's gradient boosting on the same held-out engines.

The 100 training engines go through the CSV sensor connector as ``engine,cycle,<channels>`` with the
cycle as seconds since an epoch (``--epoch``), end of life = each engine's last cycle (an
``end_times`` file); fit reads them back from the database with the C-MAPSS protocol's settings:
30-cycle windows, RUL in cycles capped at 125, the channels the protocol keeps (constant ones
dropped). Fit holds out 30 engines; the protocol's own code (``unit_windows``, its per-regime
standardisation fitted on the training engines, ``rul_baselines.gbm_rul``) is run here on exactly
fit's training / validation / test engines and scored on every test window, as fit scores them.

Recorded (seed 0, 2 shared CPU cores; ``pytest -m real_data tests/pipelines/fit/test_fit_cmapss.py``):
held-out RMSE over 5420 windows of 30 engines — fit's gbm 13.27, the protocol's gbm 13.31, Weibull
AFT 14.36 (concordance 0.86), MoE 25.80 (tiny preset from scratch, only 2 epochs x 30 steps to fit
the time box), predicting the training mean 41.83; fit about 72 s (MoE 50 s), the test 90 s.
Tolerance: fit's gbm within 15 % of the protocol's (the two differ only in the standardisation and
in which validation windows stop the boosting); the other learners beat the constant predictor.
"""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pytest

from plantpulse.connectors.sensors.options import SensorOptions
from plantpulse.data.datasets import load_dataset
from plantpulse.data.datasets.cmapss import SETTING_NAMES, RunSet
from plantpulse.data.store.db import Database
from plantpulse.model.moe.normalize import output_channels, standardise
from plantpulse.model.moe.regimes import fit_normalizer
from plantpulse.model.moe.training import TaskData
from plantpulse.pipelines.evaluate import rul_baselines as B
from plantpulse.pipelines.fit.job import run_fit
from plantpulse.pipelines.fit.spec import FitSpec
from plantpulse.pipelines.ingest.entry import ingest_sensor_file
from plantpulse.pipelines.train.tasks.cmapss import RUL_TASK, channel_names, run_table, unit_windows
from plantpulse.pipelines.train.tasks.windows import WindowView

EPOCH = datetime(2024, 1, 1, tzinfo=UTC)
WINDOW, CAP, SEED = 30, 125.0, 0


def _plant_files(runs: RunSet, channels: tuple[str, ...], folder: Path) -> tuple[Path, Path]:
    """The engines as a plant's sensor CSV (cycle = seconds since EPOCH) and end-of-life file."""
    table, names = run_table(runs), channel_names()
    cols = [names.index(c) for c in channels]
    lines = ["engine,cycle," + ",".join(channels)]
    lines += [f"{u},{c}," + ",".join(f"{v:.6g}" for v in row)
              for u, c, row in zip(runs.unit, runs.cycle, table[:, cols], strict=True)]
    ends = ["asset,end_time"] + [f"engine-{u:03d},{(EPOCH + timedelta(seconds=int(runs.cycle[runs.unit == u].max()))).isoformat()}"
                                 for u in runs.units]
    readings, end_file = folder / "fd001.csv", folder / "ends.csv"
    readings.write_text("\n".join(lines) + "\n", encoding="utf-8")
    end_file.write_text("\n".join(ends) + "\n", encoding="utf-8")
    return readings, end_file


def _protocol_gbm(runs: RunSet, parts: dict[str, list[int]]) -> tuple[np.ndarray, np.ndarray]:
    """The evaluation protocol's gradient boosting on fit's engines: (predictions, capped truth)
    on every test window."""
    names = channel_names()
    table = run_table(runs)
    stats = fit_normalizer(table[np.isin(runs.unit, parts["train"])], names, SETTING_NAMES, seed=SEED)
    series, starts, units, to_end = unit_windows(runs, WINDOW, 1)
    view_series = standardise(series, names, stats)
    channels = output_channels(names, stats)
    data = {}
    for part, engines in parts.items():
        keep = np.isin(units, engines)
        data[part] = TaskData(name=f"fd001_{part}", task=RUL_TASK, groups=units[keep], channels=channels,
                              sensor=WindowView(view_series, starts[keep], WINDOW),
                              targets=np.minimum(to_end[keep], CAP).astype(np.float32))
    pred = B.gbm_rul(data["train"], data["val"], data["test"], 200, SEED, None)
    return pred.mean, data["test"].targets


@pytest.mark.slow
@pytest.mark.real_data
def test_fd001_as_plant_data_matches_the_protocols_gbm(datasets_dir: Path, tmp_path: Path) -> None:
    runs = load_dataset("cmapss", datasets_dir, verify="sizes", subsets=("FD001",)).subsets["FD001"].train
    names = channel_names()
    kept = output_channels(names, fit_normalizer(run_table(runs), names, SETTING_NAMES, seed=SEED))
    readings, ends = _plant_files(runs, kept, tmp_path)
    db = Database(f"sqlite:///{tmp_path / 'plant.db'}")
    db.upgrade()
    ingest_sensor_file(db, readings, create_assets=True, asset_type="turbofan", options=SensorOptions(
        asset_column="engine", asset_template="engine-{:03d}", time_column="cycle", epoch=EPOCH, epoch_unit="s"))
    spec = FitSpec(asset_type="turbofan", target="rul", end_times=ends, rul_unit="cycles", rul_cap=CAP,
                   window=WINDOW, stride=1, channels=kept, epochs=2, steps=30, batch_size=64, seed=SEED)
    result = run_fit(spec, db, tmp_path / "models", tmp_path / "report", echo=lambda _: None, show_progress=False)
    db.dispose()

    assert result.info["rul_unit"] == "cycles" and result.info["step_seconds"] == 1.0
    assert len(result.info["test_assets"]) == 30 and not result.info["censored_assets"]
    engine = {a: int(a.split("-")[1]) for a in result.info["assets"]}
    test = [engine[a] for a in result.info["test_assets"]]
    val = [engine[a] for a in result.info["val_assets"]]
    train = [e for e in engine.values() if e not in test and e not in val]
    pred, truth = _protocol_gbm(runs, {"train": train, "val": val, "test": test})
    protocol_rmse = float(np.sqrt(np.mean((pred - truth) ** 2)))
    assert len(truth) == result.info["rows"]["test"]
    fit_rmse = result.metrics["gbm"]["rmse"]
    assert abs(fit_rmse - protocol_rmse) <= 0.15 * protocol_rmse, (fit_rmse, protocol_rmse)
    for kind in ("weibull", "moe"):
        assert result.metrics[kind]["rmse"] < result.info["constant_rmse"]
        assert math.isfinite(result.metrics[kind]["concordance"])

