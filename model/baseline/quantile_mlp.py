"""A small, honest RUL baseline: window features -> quantile MLP, plus a health-distance score.

Features per kept channel over the last ``window`` rows: last value, mean, standard deviation
and least-squares slope, standardised with training statistics. A two-layer MLP predicts the
10th, 50th and 90th RUL percentiles (non-crossing by construction) trained with the pinball
loss; RUL targets are capped (125 cycles for C-MAPSS, the usual piece-wise linear convention).
The 80 % interval is widened by split-conformal calibration on held-out assets (a fifth of the
training assets, chosen by asset, never by window). The anomaly score is the Mahalanobis distance of a window's features from healthy windows
(RUL at the cap), divided by the square root of the feature count.

Saved with safetensors (tensors + JSON metadata): loading never unpickles anything.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from safetensors import SafetensorError, safe_open
from safetensors.torch import load_file, save_file
from torch import nn

from plantpulse.data.core.errors import CheckpointError, InputDataError
from plantpulse.data.core.records import Prediction, SensorWindow
from plantpulse.model.predictor import window_values

FORMAT = "plantpulse-baseline-rul/1"


@dataclass(frozen=True, slots=True)
class RunToFailure:
    """One asset's history: values (T, C) float64 in time order, RUL known at the last row."""

    asset: str
    values: np.ndarray
    rul_at_end: float = 0.0


def window_features(values: np.ndarray) -> np.ndarray:
    """(B, W, C) windows -> (B, 4C) features: last, mean, std, slope per channel."""
    w = values.shape[1]
    t = np.arange(w, dtype=np.float64) - (w - 1) / 2.0
    slope = np.einsum("bwc,w->bc", values - values.mean(axis=1, keepdims=True), t) / (t @ t)
    return np.concatenate([values[:, -1], values.mean(axis=1), values.std(axis=1), slope], axis=1)


def sliding_windows(run: RunToFailure, window: int, cap: float) -> tuple[np.ndarray, np.ndarray]:
    """All windows of ``run`` (edge-padded at the start) with their capped RUL targets."""
    values = run.values
    if len(values) < window:
        values = np.concatenate([np.repeat(values[:1], window - len(values), axis=0), values])
    idx = np.arange(window)[None, :] + np.arange(len(values) - window + 1)[:, None]
    rul = run.rul_at_end + np.arange(idx.shape[0])[::-1]
    return values[idx], np.minimum(rul, cap)


class _QuantileMLP(nn.Module):
    def __init__(self, n_in: int, hidden: int) -> None:
        super().__init__()
        self.net = nn.Sequential(nn.Linear(n_in, hidden), nn.ReLU(), nn.Linear(hidden, hidden),
                                 nn.ReLU(), nn.Linear(hidden, 3))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """(B, F) -> (B, 3) RUL quantiles q10 <= q50 <= q90."""
        raw = self.net(x)
        mid = raw[:, 0]
        spread = nn.functional.softplus(raw[:, 1:])
        return torch.stack([mid - spread[:, 0], mid, mid + spread[:, 1]], dim=1)


def pinball(pred: torch.Tensor, target: torch.Tensor, quantiles: torch.Tensor) -> torch.Tensor:
    diff = target[:, None] - pred
    return torch.maximum(quantiles * diff, (quantiles - 1) * diff).mean()


class BaselineRulModel:
    """RUL quantiles + anomaly score for one asset type; see the module docstring."""

    name = "rul-baseline"
    accepts_text = False
    log_features = None  # windows only

    def __init__(self, channels: Sequence[str], asset_type: str = "turbofan", window: int = 30,
                 cap: float = 125.0, hidden: int = 64) -> None:
        self.channels = tuple(channels)
        self.asset_types = (asset_type,)
        self.window_length = window
        self.cap = cap
        self.hidden = hidden

    # ------------------------------------------------------------------ training
    def fit(self, runs: Sequence[RunToFailure], epochs: int = 40, seed: int = 0) -> BaselineRulModel:
        if not runs:
            msg = "BaselineRulModel.fit needs at least one run-to-failure history."
            raise InputDataError(msg)
        windows, targets = zip(*(sliding_windows(r, self.window_length, self.cap) for r in runs), strict=True)
        raw = np.concatenate(windows)
        y = np.concatenate(targets).astype(np.float32)
        spread = raw.reshape(-1, raw.shape[-1]).std(axis=0)
        self.keep_ = np.flatnonzero(spread > 1e-6 * np.maximum(1.0, np.abs(raw).max(axis=(0, 1))))
        feats = window_features(raw[:, :, self.keep_])
        self.mean_, self.std_ = feats.mean(axis=0), feats.std(axis=0) + 1e-8
        x = ((feats - self.mean_) / self.std_).astype(np.float32)
        self._fit_health(x[y >= self.cap])
        owner = np.concatenate([np.full(len(t), i) for i, t in enumerate(targets)])
        calib = np.isin(owner, np.random.default_rng(seed).permutation(len(runs))[: max(1, len(runs) // 5)])
        self.margin_ = 0.0
        if len(runs) >= 5:  # split-conformal widening of the 80 % interval on held-out assets
            net = self._train(x[~calib], y[~calib], epochs, seed)
            with torch.no_grad():
                q = net(torch.from_numpy(x[calib])).numpy()
            score = np.maximum(q[:, 0] - y[calib], y[calib] - q[:, 2])
            self.margin_ = float(np.quantile(score, 0.8))
        self.net_ = self._train(x, y, epochs, seed)
        return self

    def _fit_health(self, healthy: np.ndarray) -> None:
        self.health_mean_ = healthy.mean(axis=0)
        cov = np.cov(healthy, rowvar=False) + 1e-3 * np.eye(healthy.shape[1])
        self.health_prec_ = np.linalg.inv(cov)

    def _train(self, x: np.ndarray, y: np.ndarray, epochs: int, seed: int) -> _QuantileMLP:
        torch.manual_seed(seed)
        net = _QuantileMLP(x.shape[1], self.hidden)
        opt = torch.optim.Adam(net.parameters(), lr=3e-3)
        xt, yt = torch.from_numpy(x), torch.from_numpy(y)
        q = torch.tensor([0.1, 0.5, 0.9])
        gen = torch.Generator().manual_seed(seed)
        for _ in range(epochs):
            for batch in torch.randperm(len(xt), generator=gen).split(256):
                opt.zero_grad()
                pinball(net(xt[batch]), yt[batch], q).backward()
                opt.step()
        return net.eval()

    # ------------------------------------------------------------------ inference
    def _features(self, windows: np.ndarray) -> np.ndarray:
        return ((window_features(windows[:, :, self.keep_]) - self.mean_) / self.std_).astype(np.float32)

    def predict_arrays(self, windows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(B, W, C) windows -> (B, 3) RUL quantiles and (B,) anomaly scores."""
        x = self._features(windows)
        with torch.no_grad():
            quantiles = self.net_(torch.from_numpy(x)).numpy()
        quantiles[:, 0] -= self.margin_
        quantiles[:, 2] += self.margin_
        quantiles = quantiles.clip(0.0, None)
        diff = x - self.health_mean_
        distance = np.sqrt(np.einsum("bf,fg,bg->b", diff, self.health_prec_, diff) / x.shape[1])
        return quantiles, distance

    def for_asset_type(self, asset_type: str) -> BaselineRulModel:
        if asset_type not in self.asset_types:
            msg = f"Model {self.name} has no heads for asset type {asset_type!r}. It knows: {list(self.asset_types)}."
            raise InputDataError(msg)
        return self

    def predict(self, windows: Sequence[SensorWindow], texts: Sequence[str | None] | None = None,
                features: np.ndarray | None = None) -> list[Prediction]:
        """One prediction per window; ``texts`` and ``features`` are ignored (it reads windows only)."""
        if not windows:
            return []
        batch = np.stack([window_values(w, self.channels, self.window_length) for w in windows])
        quantiles, anomaly = self.predict_arrays(batch)
        return [
            Prediction(
                rul_mean=float(q[1]), rul_lower=float(q[0]), rul_upper=float(q[2]),
                rul_quantiles={"0.1": float(q[0]), "0.5": float(q[1]), "0.9": float(q[2])},
                anomaly_score=float(a),
            )
            for q, a in zip(quantiles, anomaly, strict=True)
        ]

    # ------------------------------------------------------------------ persistence
    def save(self, path: Path, metrics: dict[str, float] | None = None) -> Path:
        tensors = {k: torch.as_tensor(np.asarray(v, dtype=np.float64)) for k, v in {
            "keep": self.keep_, "mean": self.mean_, "std": self.std_,
            "health_mean": self.health_mean_, "health_prec": self.health_prec_,
            "margin": [self.margin_]}.items()}
        tensors |= {f"net.{k}": v for k, v in self.net_.state_dict().items()}
        meta = {"format": FORMAT, "channels": list(self.channels), "asset_type": self.asset_types[0],
                "window": self.window_length, "cap": self.cap, "hidden": self.hidden,
                "metrics": metrics or {}}
        path.parent.mkdir(parents=True, exist_ok=True)
        save_file(tensors, str(path), metadata={"plantpulse": json.dumps(meta)})
        return path


def load(path: Path) -> BaselineRulModel:
    """Load a model saved by :meth:`BaselineRulModel.save`, with clear errors for bad files."""
    try:
        tensors = load_file(str(path))
        with safe_open(str(path), "pt") as fh:
            meta = json.loads((fh.metadata() or {})["plantpulse"])
    except (OSError, KeyError, ValueError, RuntimeError, SafetensorError) as err:
        msg = f"{path}: not a PlantPulse baseline checkpoint ({err}). Re-train it with `plantpulse demo`."
        raise CheckpointError(msg) from err
    if meta.get("format") != FORMAT:
        msg = f"{path}: checkpoint format {meta.get('format')!r}, this code reads {FORMAT!r}."
        raise CheckpointError(msg)
    model = BaselineRulModel(meta["channels"], meta["asset_type"], meta["window"], meta["cap"], meta["hidden"])
    model.keep_ = tensors["keep"].numpy().astype(np.int64)
    for name in ("mean", "std", "health_mean", "health_prec"):
        setattr(model, f"{name}_", tensors[name].numpy().astype(np.float64))
    model.margin_ = float(tensors["margin"][0])
    model.net_ = _QuantileMLP(len(model.mean_), model.hidden)
    model.net_.load_state_dict({k[4:]: v for k, v in tensors.items() if k.startswith("net.")})
    model.net_.eval()
    return model
