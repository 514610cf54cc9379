"""The gbm predictor kind's trees, evaluated with numpy, give what scikit-learn gives."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.ensemble import HistGradientBoostingClassifier, HistGradientBoostingRegressor

from plantpulse.data.core.errors import CheckpointError
from plantpulse.model.baseline.window_gbm import ensembles, load, save_gbm


def _x(rng: np.random.Generator, n: int = 300) -> np.ndarray:
    x = rng.normal(size=(n, 4))
    x[rng.random(x.shape) < 0.05] = np.nan  # missing values take the learned direction
    return x


@pytest.mark.parametrize("loss", ["squared_error", "quantile"])
def test_regression_trees_match_scikit_learn(rng: np.random.Generator, loss: str) -> None:
    x = _x(rng)
    y = np.nan_to_num(x[:, 0]) * 3 + np.nan_to_num(x[:, 1]) ** 2 + rng.normal(0, 0.1, len(x))
    model = HistGradientBoostingRegressor(loss=loss, max_iter=30, random_state=0,
                                          quantile=0.9 if loss == "quantile" else None).fit(x, y)
    (trees,) = ensembles(model)
    np.testing.assert_allclose(trees.raw(x), model.predict(x), rtol=1e-9, atol=1e-9)
    (first,) = ensembles(model, rounds=10)
    staged = list(model.staged_predict(x))[9]
    np.testing.assert_allclose(first.raw(x), staged, rtol=1e-9, atol=1e-9)


@pytest.mark.parametrize("n_classes", [2, 3])
def test_class_trees_match_scikit_learn(rng: np.random.Generator, n_classes: int) -> None:
    x = _x(rng)
    y = np.digitize(np.nan_to_num(x[:, 0]) + np.nan_to_num(x[:, 2]), np.linspace(-1, 1, n_classes - 1))
    model = HistGradientBoostingClassifier(max_iter=20, random_state=0).fit(x, y)
    raw = np.stack([t.raw(x) for t in ensembles(model)], axis=1)
    np.testing.assert_allclose(raw, model._raw_predict(x).reshape(len(x), -1), rtol=1e-9, atol=1e-9)


def test_a_saved_file_loads_without_pickle_and_refuses_other_files(rng: np.random.Generator, tmp_path) -> None:
    x = _x(rng)
    model = HistGradientBoostingRegressor(max_iter=5).fit(x, np.nan_to_num(x[:, 0]))
    heads = dict(zip(("mean", "q10", "q90"), ensembles(model) * 3, strict=True))
    meta = {"asset_type": "pump", "target": "rul", "channels": ["a"], "window": 4, "mean": [0.0], "std": [1.0],
            "rul_cap": 10.0, "classes": []}
    loaded = load(save_gbm(tmp_path / "m.safetensors", heads, meta))
    np.testing.assert_allclose(loaded.heads["mean"].raw(x), model.predict(x))
    (tmp_path / "bad.safetensors").write_bytes(b"not a model")
    with pytest.raises(CheckpointError, match="Cannot read gbm model"):
        load(tmp_path / "bad.safetensors")


def test_isolation_forest_trees_match_scikit_learn(rng: np.random.Generator, tmp_path) -> None:
    from sklearn.ensemble import IsolationForest

    from plantpulse.model.baseline.window_gbm import isolation_trees

    x = rng.normal(size=(200, 4))
    forest = IsolationForest(n_estimators=20, random_state=0).fit(x)
    trees, norm = isolation_trees(forest)
    probe = np.concatenate([x[:50], rng.normal(3, 1, (20, 4))])
    score = 2.0 ** (-trees.raw(probe.astype(np.float32).astype(np.float64)) / norm)
    np.testing.assert_allclose(score, -forest.score_samples(probe), rtol=1e-9)
