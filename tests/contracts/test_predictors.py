"""One contract over every registered predictor kind.

Each kind builds a tiny model from synthetic data, saves it, and is loaded back through the one
``load_predictor``; what scoring relies on must then hold: the protocol's attributes, one typed,
finite :class:`Prediction` per window (gaps and short windows included), clear errors for
unknown asset types and missing channels.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

from plantpulse.data.core.errors import InputDataError
from plantpulse.data.core.records import Prediction, SensorWindow
from plantpulse.model.predictor import PREDICTORS, Predictor, load_predictor, predictor_kinds

ASSET = "pump"
CHANNELS = ("flow", "pressure", "temp")
WINDOW = 8
LEVELS = np.array([50.0, 3.0, 70.0])


def _runs(n: int = 6, length: int = 40, seed: int = 0) -> list[np.ndarray]:
    """Run-to-failure histories (length, C): a drift towards failure on every channel, plus noise."""
    rng = np.random.default_rng(seed)
    wear = np.linspace(0.0, 1.0, length)[:, None]
    return [LEVELS + wear * [5.0, -0.5, 8.0] + rng.normal(0, [0.5, 0.05, 0.4], (length, 3)) for _ in range(n)]


def build_baseline(folder: Path) -> Path:
    from plantpulse.model.baseline.quantile_mlp import BaselineRulModel, RunToFailure

    runs = [RunToFailure(f"p{i}", values) for i, values in enumerate(_runs())]
    model = BaselineRulModel(CHANNELS, asset_type=ASSET, window=WINDOW, cap=30.0, hidden=8)
    return model.fit(runs, epochs=2).save(folder / "baseline.safetensors")


def build_moe(folder: Path) -> Path:
    import torch

    from plantpulse.model import PlantPulseModel, TaskSpec, preset
    from plantpulse.model.moe.checkpoint import save_checkpoint
    from plantpulse.model.moe.regimes import fit_normalizer

    torch.manual_seed(0)
    tasks = (TaskSpec(name=f"rul:{ASSET}", kind="rul", rul_cap=30.0),
             TaskSpec(name=f"fault:{ASSET}", kind="classification", classes=("normal", "cavitation", "seal")),
             TaskSpec(name=f"anomaly:{ASSET}", kind="anomaly"))
    cfg = preset("tiny", tasks=tasks, capacity_factor=None, channel_vocab=CHANNELS)
    stats = fit_normalizer(np.concatenate(_runs()), CHANNELS)
    extra = {"normalizers": {ASSET: stats}, "window_lengths": {ASSET: WINDOW}}
    return save_checkpoint(PlantPulseModel(cfg), folder / "moe-v1.safetensors", kind="student", name="moe",
                           extra=extra)


def _standardised_windows() -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Every window of the runs standardised, (N, WINDOW, C); their RUL (N,); the mean and std (C,)."""
    runs = _runs()
    stack = np.concatenate(runs)
    mean, std = stack.mean(0), stack.std(0)
    windows = np.stack([(r[i - WINDOW:i] - mean) / std for r in runs for i in range(WINDOW, len(r) + 1)])
    rul = np.concatenate([np.arange(len(r) - WINDOW, -1, -1.0) for r in runs])
    return windows, rul, mean, std


def build_gbm(folder: Path) -> Path:
    from sklearn.ensemble import HistGradientBoostingRegressor

    from plantpulse.model.baseline.quantile_mlp import window_features
    from plantpulse.model.baseline.window_gbm import ensembles, save_gbm

    windows, rul, mean, std = _standardised_windows()
    x = window_features(windows)
    heads = {name: ensembles(HistGradientBoostingRegressor(max_iter=10, **kw).fit(x, rul))[0] for name, kw in
             (("mean", {}), ("q10", {"loss": "quantile", "quantile": 0.1}), ("q90", {"loss": "quantile", "quantile": 0.9}))}
    meta = {"asset_type": ASSET, "target": "rul", "channels": list(CHANNELS), "window": WINDOW,
            "mean": mean.tolist(), "std": std.tolist(), "rul_cap": 30.0, "classes": []}
    return save_gbm(folder / "gbm.safetensors", heads, meta)


def build_weibull(folder: Path) -> Path:
    from plantpulse.model.baseline.quantile_mlp import window_features
    from plantpulse.model.baseline.window_weibull import fit_weibull, save_weibull

    windows, rul, mean, std = _standardised_windows()
    model = fit_weibull(window_features(windows), np.minimum(rul, 30.0), rul < 30.0)
    meta = {"asset_type": ASSET, "target": "rul", "channels": list(CHANNELS), "window": WINDOW,
            "mean": mean.tolist(), "std": std.tolist(), "rul_cap": 30.0}
    return save_weibull(folder / "weibull.safetensors", model, meta)


BUILDERS: dict[str, Callable[[Path], Path]] = {"baseline": build_baseline, "moe": build_moe, "gbm": build_gbm,
                                               "weibull": build_weibull}
# models built here without an anomaly head, by predictor name (their anomaly_score is None)
NO_ANOMALY_HEAD = {"gbm", "weibull"}


def _windows() -> list[SensorWindow]:
    rng = np.random.default_rng(1)
    ts = np.arange(12).astype("datetime64[h]").astype("datetime64[us]")
    full = LEVELS + rng.normal(0, 0.3, (12, 3))
    gaps = full.copy()
    gaps[[0, 5], [1, 2]] = np.nan  # gaps are filled, not refused
    reordered = full[:, ::-1].copy()  # channels in another order than the model's
    return [SensorWindow(1, "pump-01", CHANNELS, ts, full),
            SensorWindow(2, "pump-02", CHANNELS, ts, gaps),
            SensorWindow(3, "pump-03", CHANNELS[::-1], ts, reordered),
            SensorWindow(4, "pump-04", CHANNELS, ts[:3], full[:3])]  # shorter than the window


def test_every_shipped_kind_is_covered() -> None:
    shipped = {k for k in predictor_kinds() if PREDICTORS.get(k).__module__.startswith("plantpulse.")}
    assert shipped == set(BUILDERS)


@pytest.fixture(scope="module", params=sorted(BUILDERS))
def predictor(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Predictor:
    import torch

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    path = BUILDERS[request.param](tmp_path_factory.mktemp(request.param))
    yield load_predictor(request.param, path)
    torch.set_num_threads(threads)


def test_describes_what_it_scores(predictor: Predictor) -> None:
    assert isinstance(predictor, Predictor)
    assert isinstance(predictor.name, str) and predictor.name
    assert predictor.asset_types == (ASSET,)
    assert predictor.channels == CHANNELS
    assert predictor.window_length == WINDOW
    assert isinstance(predictor.accepts_text, bool)
    view = predictor.for_asset_type(ASSET)
    assert (view.asset_types, view.channels, view.window_length) == ((ASSET,), CHANNELS, WINDOW)


def _finite(x: object) -> bool:
    return isinstance(x, float) and math.isfinite(x)


def _check(p: Prediction, anomaly: bool = True) -> None:
    assert isinstance(p, Prediction)
    assert p.rul_mean is not None, "every kind here has a RUL head"
    assert all(_finite(v) for v in (p.rul_mean, p.rul_lower, p.rul_upper))
    assert 0.0 <= p.rul_lower <= p.rul_mean <= p.rul_upper
    assert p.rul_quantiles is None or all(isinstance(k, str) and _finite(v) for k, v in p.rul_quantiles.items())
    if anomaly:
        assert _finite(p.anomaly_score) and p.anomaly_score >= 0
    else:
        assert p.anomaly_score is None
    for probs in (p.fault_probs, *p.class_probs.values()):
        assert all(isinstance(k, str) and _finite(v) and 0 <= v <= 1 for k, v in probs.items())
    if p.fault_probs:
        assert sum(p.fault_probs.values()) == pytest.approx(1.0, abs=1e-4)
    assert all(isinstance(k, str) and _finite(v) for k, v in p.modality_shares.items())
    assert isinstance(p.expert_shares, tuple) and all(_finite(v) for v in p.expert_shares)
    assert isinstance(p.routing, dict)


def test_predicts_one_typed_finite_prediction_per_window(predictor: Predictor) -> None:
    windows = _windows()
    texts = ["seal replaced", None, "", "cavitation noise"] if predictor.accepts_text else None
    predictions = predictor.for_asset_type(ASSET).predict(windows, texts)
    assert len(predictions) == len(windows)
    for p in predictions:
        _check(p, anomaly=predictor.name not in NO_ANOMALY_HEAD)
    assert predictor.for_asset_type(ASSET).predict([]) == []


def test_refuses_unknown_asset_types_and_missing_channels(predictor: Predictor) -> None:
    with pytest.raises(InputDataError, match="no heads for asset type 'turbofan'"):
        predictor.for_asset_type("turbofan")
    w = _windows()[0]
    short = SensorWindow(w.asset_id, w.asset_name, CHANNELS[:2], w.ts, w.values[:, :2])
    with pytest.raises(InputDataError, match=r"pump-01: window lacks channel\(s\) \['temp'\]"):
        predictor.for_asset_type(ASSET).predict([short])
