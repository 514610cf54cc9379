"""Gradient-boosted trees on window features as a predictor kind (``gbm``), saved as plain arrays.

The trees ``plantpulse fit`` grows with scikit-learn are stored node by node (feature, threshold,
missing-value direction, children, leaf value) in a safetensors file with JSON metadata, and
evaluated here with numpy: loading never unpickles anything. Features per channel over the last
``window`` rows, standardised with the training statistics: last value, mean, standard deviation,
slope (:func:`plantpulse.model.baseline.quantile_mlp.window_features`).

Heads: ``anomaly`` (an isolation forest: ensemble ``forest`` of path lengths), ``rul`` (ensembles ``mean``, ``q10``, ``q90``: RUL and its 80 % interval), ``class``
(one ensemble per class, softmax; one for two classes, sigmoid); a classifier's trees split on
quantile-bin codes of the features, so its bin edges are stored too.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Self

import numpy as np
from safetensors import SafetensorError, safe_open
from safetensors.numpy import load_file, save_file

from plantpulse.data.core.errors import CheckpointError, InputDataError
from plantpulse.data.core.records import Prediction, SensorWindow
from plantpulse.model.baseline.quantile_mlp import window_features
from plantpulse.model.log_features import LogFeatures
from plantpulse.model.predictor import window_values

FORMAT = "plantpulse-window-gbm/1"
SNAPSHOT_BANDS = 16
_NODE_FIELDS = ("feature", "threshold", "missing_left", "left", "right", "leaf", "value")


def snapshot_features(windows: np.ndarray, bands: int = SNAPSHOT_BANDS) -> np.ndarray:
    """(N, T, C) high-rate snapshots -> (N, (4 + bands) C): log RMS, kurtosis, crest factor and
    skewness of the de-meaned signal, and the log power of ``bands`` equal-width bands of its
    Hann-windowed spectrum (fault frequencies show up as band energy)."""
    x = windows.astype(np.float64)
    x = x - x.mean(1, keepdims=True)
    rms = np.sqrt((x**2).mean(1)) + 1e-12
    z = x / rms[:, None, :]
    stats = [np.log(rms), (z**4).mean(1), np.abs(x).max(1) / rms, (z**3).mean(1)]
    power = np.abs(np.fft.rfft(x * np.hanning(x.shape[1])[None, :, None], axis=1)) ** 2
    split = np.array_split(np.arange(power.shape[1]), bands)
    energy = np.log(np.stack([power[:, b].mean(1) for b in split], axis=1) + 1e-12)
    return np.concatenate([np.stack(stats, axis=1).reshape(len(x), -1), energy.reshape(len(x), -1)], axis=1)


def features(windows: np.ndarray, kind: str) -> np.ndarray:
    """The baseline's features of standardised windows: ``window`` (last, mean, std, slope per
    channel) or ``snapshot`` (:func:`snapshot_features`)."""
    return snapshot_features(windows) if kind == "snapshot" else window_features(windows.astype(np.float64))


@dataclass(frozen=True)
class Trees:
    """An additive ensemble: node arrays of all trees concatenated, ``roots`` (K,) the first node
    of each tree (children indices are absolute), ``baseline`` the raw score before any tree."""

    feature: np.ndarray
    threshold: np.ndarray
    missing_left: np.ndarray
    left: np.ndarray
    right: np.ndarray
    leaf: np.ndarray
    value: np.ndarray
    roots: np.ndarray
    baseline: float

    @classmethod
    def from_nodes(cls, trees: Sequence[np.ndarray], baseline: float) -> Trees:
        """From scikit-learn's per-tree node records (``TreePredictor.nodes``)."""
        parts: dict[str, list[np.ndarray]] = {k: [] for k in _NODE_FIELDS}
        roots, offset = [], 0
        for nodes in trees:
            roots.append(offset)
            parts["feature"].append(nodes["feature_idx"].astype(np.int64))
            parts["threshold"].append(nodes["num_threshold"].astype(np.float64))
            parts["missing_left"].append(nodes["missing_go_to_left"].astype(bool))
            parts["left"].append(nodes["left"].astype(np.int64) + offset)
            parts["right"].append(nodes["right"].astype(np.int64) + offset)
            parts["leaf"].append(nodes["is_leaf"].astype(bool))
            parts["value"].append(nodes["value"].astype(np.float64))
            offset += len(nodes)
        arrays = {k: np.concatenate(v) if v else np.zeros(0) for k, v in parts.items()}
        return cls(**arrays, roots=np.asarray(roots, dtype=np.int64), baseline=float(baseline))

    def raw(self, x: np.ndarray) -> np.ndarray:
        """(N, F) features -> (N,) baseline + the sum of every tree's leaf value."""
        if len(self.roots) == 0:
            return np.full(len(x), self.baseline)
        node = np.broadcast_to(self.roots, (len(x), len(self.roots))).copy()
        rows = np.arange(len(x))[:, None]
        while not self.leaf[node].all():
            xv = x[rows, self.feature[node]]
            go_left = np.where(np.isnan(xv), self.missing_left[node], xv <= self.threshold[node])
            step = np.where(go_left, self.left[node], self.right[node])
            node = np.where(self.leaf[node], node, step)
        return self.baseline + self.value[node].sum(1)


def average_path_length(n: int) -> float:
    """c(n): the mean depth of an unsuccessful search in a binary tree of n points (Liu et al. 2008)."""
    if n <= 1:
        return 0.0
    if n == 2:
        return 1.0
    return 2.0 * (np.log(n - 1.0) + np.euler_gamma) - 2.0 * (n - 1.0) / n


def isolation_trees(forest: Any) -> tuple[Trees, float]:
    """A fitted scikit-learn ``IsolationForest`` as one ensemble whose leaf values are the path
    lengths (depth + expected remaining depth), and the normaliser n_trees * c(max_samples):
    ``2 ** -(raw / normaliser)`` is scikit-learn's anomaly score (0 .. 1, higher = more anomalous)."""
    parts: dict[str, list[np.ndarray]] = {k: [] for k in _NODE_FIELDS}
    roots, offset = [], 0
    for i, tree in enumerate(forest.estimators_):
        t = tree.tree_
        if len(forest.estimators_features_[i]) != forest.n_features_in_:
            raise ValueError("isolation_trees needs max_features=1.0 (every tree sees every feature)")
        roots.append(offset)
        leaf = t.children_left == -1
        parts["feature"].append(np.where(leaf, 0, t.feature).astype(np.int64))
        parts["threshold"].append(t.threshold.astype(np.float64))
        parts["missing_left"].append(np.zeros(t.node_count, dtype=bool))
        parts["left"].append(np.where(leaf, 0, t.children_left).astype(np.int64) + offset)
        parts["right"].append(np.where(leaf, 0, t.children_right).astype(np.int64) + offset)
        parts["leaf"].append(leaf)
        parts["value"].append(forest._decision_path_lengths[i] + forest._average_path_length_per_tree[i] - 1.0)
        offset += t.node_count
    arrays = {k: np.concatenate(v) for k, v in parts.items()}
    norm = len(forest.estimators_) * average_path_length(int(forest._max_samples))
    return Trees(**arrays, roots=np.asarray(roots, dtype=np.int64), baseline=0.0), norm


def ensembles(estimator: Any, rounds: int | None = None) -> list[Trees]:
    """The tree ensembles of a fitted scikit-learn ``HistGradientBoosting*`` model after ``rounds``
    boosting rounds (default all): one per raw output (K classes of a multi-class model, else one)."""
    iterations = estimator._predictors[:rounds] if rounds else estimator._predictors
    baseline = np.asarray(estimator._baseline_prediction, dtype=np.float64).reshape(-1)
    return [Trees.from_nodes([it[k].nodes for it in iterations], baseline[k]) for k in range(len(baseline))]


def save_gbm(path: Path | str, heads: dict[str, Trees], meta: dict[str, Any],
             bin_edges: Sequence[np.ndarray] | None = None) -> Path:
    """Write ``heads`` and ``meta`` (asset_type, target, channels, window, mean, std, classes)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tensors: dict[str, np.ndarray] = {}
    for name, trees in heads.items():
        for key in (*_NODE_FIELDS, "roots"):
            value = getattr(trees, key)
            tensors[f"{name}.{key}"] = value.astype(np.uint8) if value.dtype == bool else np.ascontiguousarray(value)
    if bin_edges is not None:
        for j, edges in enumerate(bin_edges):
            tensors[f"bins.{j}"] = np.ascontiguousarray(edges, dtype=np.float64)
    baselines = {name: trees.baseline for name, trees in heads.items()}
    header = {**meta, "heads": list(heads), "baselines": baselines, "n_bins": len(bin_edges or ())}
    save_file(tensors, str(path), metadata={"format": FORMAT, "meta": json.dumps(header)})
    return path


class WindowModel:
    """What the predictors of ``plantpulse fit``'s window-feature models share: one asset type, its
    channels and window length, and their features of the windows standardised as in training
    (``meta``: asset_type, channels, window, mean, std, features), followed by the standardised
    maintenance-log features when the fit recorded them (``meta["log_features"]``)."""

    accepts_text = False

    def __init__(self, name: str, meta: dict[str, Any]) -> None:
        self.name, self.meta = name, meta
        self.asset_types = (str(meta["asset_type"]),)
        self.channels = tuple(meta["channels"])
        self.window_length = int(meta["window"])
        found = meta.get("log_features")
        self.log_features = None if found is None else LogFeatures.from_dict(found, f"model {name}")

    def for_asset_type(self, asset_type: str) -> Self:
        if asset_type not in self.asset_types:
            msg = f"Model {self.name} has no heads for asset type {asset_type!r}. It knows: {list(self.asset_types)}."
            raise InputDataError(msg)
        return self

    def features(self, windows: Sequence[SensorWindow], log: np.ndarray | None = None) -> np.ndarray:
        """The (B, F) inputs of ``windows``; ``log`` (B, L) their raw log features when the model
        was fit on them (an ``InputDataError`` when they are missing or misshapen)."""
        values = np.stack([window_values(w, self.channels, self.window_length) for w in windows])
        z = (values - np.asarray(self.meta["mean"])) / np.asarray(self.meta["std"])
        out = features(np.nan_to_num(z), self.meta.get("features", "window"))
        if self.log_features is None:
            return out
        return np.concatenate([out, self.log_features.model_inputs(log, len(windows), self.name)], axis=1)


def read_arrays(path: Path, fmt: str, what: str) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
    """The arrays and JSON ``meta`` of a safetensors model file of format ``fmt`` (nothing is
    executed); a ``CheckpointError`` names the file and the fix."""
    try:
        tensors = load_file(str(path))
        with safe_open(str(path), framework="numpy") as handle:
            metadata = handle.metadata() or {}
    except (OSError, SafetensorError) as err:
        raise CheckpointError(f"Cannot read {what} model {path}: {err}. Re-run plantpulse fit.") from err
    if metadata.get("format") != fmt:
        raise CheckpointError(f"{path} is not a {fmt} file (format {metadata.get('format')!r}).")
    return tensors, json.loads(metadata["meta"])


class WindowGbm(WindowModel):
    """The ``gbm`` predictor: one asset type, the head its fit trained (see the module text)."""

    def __init__(self, name: str, meta: dict[str, Any], heads: dict[str, Trees], bins: list[np.ndarray]) -> None:
        super().__init__(name, meta)
        self.heads, self.bins = heads, bins

    def _codes(self, x: np.ndarray) -> np.ndarray:
        out = np.empty_like(x)
        for j, edges in enumerate(self.bins):
            out[:, j] = np.searchsorted(edges, x[:, j], side="left")
        return out

    def predict(self, windows: Sequence[SensorWindow], texts: Sequence[str | None] | None = None,
                features: np.ndarray | None = None) -> list[Prediction]:
        if not windows:
            return []
        x = self.features(windows, features)
        if self.meta["target"] == "anomaly":  # trees split float32 features, as scikit-learn's do
            depth = self.heads["forest"].raw(x.astype(np.float32).astype(np.float64))
            score = 2.0 ** (-depth / float(self.meta["normaliser"]))
            return [Prediction(anomaly_score=float(v)) for v in score]
        if self.meta["target"] == "rul":
            cap = float(self.meta["rul_cap"])
            mean, q10, q90 = (np.clip(self.heads[k].raw(x), 0, cap) for k in ("mean", "q10", "q90"))
            low, high = np.minimum(q10, mean), np.maximum(q90, mean)
            return [Prediction(rul_mean=float(m), rul_lower=float(lo), rul_upper=float(hi),
                               rul_quantiles={"0.1": float(lo), "0.9": float(hi)})
                    for m, lo, hi in zip(mean, low, high, strict=True)]
        probs = self.class_probabilities(x)
        task = f"fault:{self.asset_types[0]}"
        out = []
        for row in probs:
            fault = dict(zip(self.meta["classes"], (float(p) for p in row), strict=True))
            out.append(Prediction(fault_probs=fault, class_probs={task: fault}))
        return out

    def class_probabilities(self, x: np.ndarray) -> np.ndarray:
        """(N, K) probabilities of the classes in ``meta['classes']`` for (N, F) features."""
        return self._probs(self._codes(x) if self.bins else x)

    def _probs(self, x: np.ndarray) -> np.ndarray:
        raw = np.stack([self.heads[h].raw(x) for h in self.meta["heads"]], axis=1)
        if raw.shape[1] == 1:  # two classes: one ensemble of the second class's log-odds
            p = 1.0 / (1.0 + np.exp(-raw[:, 0]))
            return np.stack([1 - p, p], axis=1)
        e = np.exp(raw - raw.max(1, keepdims=True))
        return e / e.sum(1, keepdims=True)


def load(path: Path | str) -> WindowGbm:
    """Load a ``gbm`` file written by :func:`save_gbm` (no code is executed)."""
    path = Path(path)
    tensors, meta = read_arrays(path, FORMAT, "gbm")
    heads = {}
    for name in meta["heads"]:
        arrays = {k: tensors[f"{name}.{k}"] for k in (*_NODE_FIELDS, "roots")}
        arrays["missing_left"], arrays["leaf"] = arrays["missing_left"].astype(bool), arrays["leaf"].astype(bool)
        heads[name] = Trees(**arrays, baseline=float(meta["baselines"][name]))
    bins = [tensors[f"bins.{j}"] for j in range(int(meta["n_bins"]))]
    return WindowGbm(path.stem, meta, heads, bins)
