"""The RUL baseline learns a real signal from the bundled C-MAPSS sample and saves safely."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from plantpulse.data.core.errors import CheckpointError, InputDataError
from plantpulse.data.core.records import SensorWindow
from plantpulse.model.baseline.quantile_mlp import (
    BaselineRulModel,
    RunToFailure,
    load,
    sliding_windows,
    window_features,
)

SAMPLE = Path(__file__).resolve().parents[2] / "data" / "sample"


@pytest.fixture(scope="module")
def sample_runs() -> tuple[list[RunToFailure], list[RunToFailure], list[str]]:
    train = pd.read_csv(SAMPLE / "training" / "turbofan_fd001_train.csv")
    test = pd.read_csv(SAMPLE / "sensors" / "turbofan_fd001_test.csv")
    truth = pd.read_csv(SAMPLE / "training" / "turbofan_fd001_test_rul.csv").set_index("asset")
    channels = [c for c in train.columns if c.startswith(("setting_", "s_"))]

    def runs(frame: pd.DataFrame, rul: pd.Series | None) -> list[RunToFailure]:
        return [RunToFailure(name, g[channels].to_numpy(float), 0.0 if rul is None else float(rul[name]))
                for name, g in frame.groupby("asset", sort=True)]

    return runs(train, None), runs(test, truth["true_rul_cycles"]), channels


@pytest.fixture(scope="module")
def fitted(sample_runs) -> BaselineRulModel:
    train, _, channels = sample_runs
    return BaselineRulModel(channels).fit(train, epochs=25, seed=0)


def test_features_of_a_ramp() -> None:
    ramp = np.arange(10.0)[None, :, None]
    last, mean, std, slope = window_features(ramp)[0]
    assert (last, mean, slope) == (9.0, 4.5, pytest.approx(1.0))
    assert std == pytest.approx(np.arange(10.0).std())


def test_sliding_windows_cap_and_pad() -> None:
    run = RunToFailure("a", np.arange(5.0)[:, None], rul_at_end=3.0)
    windows, rul = sliding_windows(run, window=4, cap=5.0)
    assert windows.shape == (2, 4, 1) and rul.tolist() == [4.0, 3.0]
    short, rul = sliding_windows(RunToFailure("b", np.ones((2, 1))), window=4, cap=125.0)
    assert short.shape == (1, 4, 1) and rul.tolist() == [0.0]


def test_beats_predicting_the_mean(fitted: BaselineRulModel, sample_runs) -> None:
    _, test, _ = sample_runs
    windows = np.stack([np.concatenate([np.repeat(r.values[:1], 30, 0), r.values])[-30:] for r in test])
    quantiles, anomaly = fitted.predict_arrays(windows)
    truth = np.minimum([r.rul_at_end for r in test], 125.0)
    rmse = float(np.sqrt(np.mean((quantiles[:, 1] - truth) ** 2)))
    naive = float(np.sqrt(np.mean((truth.mean() - truth) ** 2)))
    assert rmse < 0.75 * naive
    assert np.all(quantiles[:, 0] <= quantiles[:, 1]) and np.all(quantiles[:, 1] <= quantiles[:, 2])
    assert anomaly[truth < 40].mean() > anomaly[truth > 100].mean()


def test_predict_from_sensor_windows(fitted: BaselineRulModel) -> None:
    rng = np.random.default_rng(0)
    channels = tuple(reversed(fitted.channels))  # order differs from the model's
    window = SensorWindow(1, "eng", channels, np.arange(40).astype("datetime64[h]"),
                          rng.normal(size=(40, len(channels))))
    (prediction,) = fitted.predict([window])
    assert prediction.rul_lower <= prediction.rul_mean <= prediction.rul_upper
    broken = SensorWindow(1, "eng", channels[1:], window.ts, window.values[:, 1:])
    with pytest.raises(InputDataError, match="lacks channel"):
        fitted.predict([broken])


def test_save_load_round_trip(fitted: BaselineRulModel, tmp_path: Path) -> None:
    path = fitted.save(tmp_path / "m.safetensors")
    again = load(path)
    windows = np.random.default_rng(1).normal(size=(4, 30, len(fitted.channels)))
    np.testing.assert_allclose(again.predict_arrays(windows)[0], fitted.predict_arrays(windows)[0], rtol=1e-6)


def test_corrupt_checkpoint_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "bad.safetensors"
    path.write_bytes(b"\x00" * 64)
    with pytest.raises(CheckpointError, match="not a PlantPulse baseline checkpoint"):
        load(path)
