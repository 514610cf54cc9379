"""A lead for the CWRU unseen-fault-size gap: does the envelope spectrum read at the drive-end
bearing's fault frequencies carry the fault type across fault sizes?

For each window and channel: the envelope spectrum (Hilbert magnitude, zero-padded to 8192
points) at 1, 2 and 3 times BPFI, BPFO, twice the ball spin, the cage and the shaft frequency
(the SKF 6205-2RS JEM orders of the shaft speed given by the CWRU bearing data centre, at each
recording's stored rpm, +/- 3 % for slip), as log ratios to the median envelope level of 10-600 Hz.
Gradient boosting (the evaluation's fit_classifier, 3000 training windows, rounds on validation)
on the evaluation's spectral features, on those plus the fault-frequency features, and on the
fault-frequency features alone; unseen-size folds of the evaluation, seed 0; fault-type test
accuracy per held-out size.

    PLANTPULSE_DATASETS=/path/to/datasets python benchmarks/cwru_fault_orders.py
"""
from __future__ import annotations

import os

os.environ.setdefault("OMP_NUM_THREADS", "1")

from pathlib import Path

import numpy as np
from scipy.signal import hilbert

from plantpulse.data.core.config.settings import load_settings
from plantpulse.data.datasets import load_dataset
from plantpulse.model.vibration_features import vibration_features
from plantpulse.pipelines.evaluate import experiments as X
from plantpulse.pipelines.evaluate.cwru import TYPE_OF, type_probs
from plantpulse.pipelines.evaluate.gbm import class_probabilities
from plantpulse.pipelines.evaluate.records import BUDGETS, EvalContext
from plantpulse.pipelines.train.tasks.cwru import CLASSES, FAULT_TASK
from plantpulse.pipelines.train.tasks.windows import chunked

# fault frequencies of the drive-end bearing as multiples of the shaft speed (CWRU bearing data centre)
ORDERS = {"bpfi": 5.4152, "bpfo": 3.5848, "ball_spin_x2": 4.7135, "cage": 0.39828, "shaft": 1.0}
RATE_HZ = 12000.0
NFFT = 8192
CHUNK = 512


def order_features(windows: np.ndarray, rpm: np.ndarray) -> np.ndarray:
    """(N, T, C) windows and (N,) shaft speeds -> (N, 15 * C) log envelope-peak ratios."""
    x = windows.astype(np.float64)
    x = x - x.mean(1, keepdims=True)
    env = np.abs(hilbert(x, axis=1))
    env = env - env.mean(1, keepdims=True)
    spec = np.abs(np.fft.rfft(env * np.hanning(x.shape[1])[None, :, None], n=NFFT, axis=1))
    freqs = np.fft.rfftfreq(NFFT, 1 / RATE_HZ)
    floor = np.median(spec[:, (freqs > 10) & (freqs < 600)], axis=1) + 1e-9  # (N, C)
    out = []
    for order in ORDERS.values():
        for harmonic in (1, 2, 3):
            f0 = harmonic * order * rpm / 60.0
            near = (freqs[None, :] >= 0.97 * f0[:, None]) & (freqs[None, :] <= 1.03 * f0[:, None])
            out.append(np.log(np.where(near[:, :, None], spec, 0).max(1) / floor))
    return np.concatenate(out, axis=1).astype(np.float32)


def features(data, rows: np.ndarray | None, which: str, rpm_of: dict[int, float]) -> np.ndarray:
    index = np.arange(len(data)) if rows is None else rows
    parts = [] if which == "orders" else [chunked(data.sensor, vibration_features, rows)]
    if which != "spectral":
        rpm = np.array([rpm_of[g] for g in data.groups[index]])
        parts.append(np.concatenate([order_features(np.asarray(data.sensor[index[i:i + CHUNK]]), rpm[i:i + CHUNK])
                                     for i in range(0, len(index), CHUNK)]))
    return np.concatenate(parts, axis=1)


def main() -> None:
    root = load_settings().require_datasets_dir()
    work = Path("/tmp/cwru-fault-orders")
    ctx = EvalContext(root, (0,), BUDGETS["per-task"], work, Path(__file__).resolve().parents[1] / "model" / "checkpoints",
                      work, from_checkpoint=True, echo=lambda _: None)
    rpm_of = {r.file_number: r.rpm for r in load_dataset("cwru", root, verify="sizes").recordings}
    for which in ("spectral", "spectral + fault orders", "fault orders"):
        key = {"spectral": "spectral", "spectral + fault orders": "both", "fault orders": "orders"}[which]
        accuracies = []
        for size in X.CWRU_SIZES:
            splits = X.bundle(ctx, "cwru", 0, protocol="fault_size", test_size=size).splits[FAULT_TASK.name]
            rows = np.sort(np.random.default_rng(0).choice(len(splits.train), min(3000, len(splits.train)), replace=False))
            train = features(splits.train, rows, key, rpm_of)
            val, test = (features(d, None, key, rpm_of) for d in (splits.val, splits.test))
            probs = class_probabilities(train, splits.train.targets[rows], val, splits.val.targets, test,
                                        len(CLASSES), ctx.budget.gbm_iter, 0)
            truth = TYPE_OF[splits.test.targets.astype(int)]
            accuracies.append(float((type_probs(probs).argmax(1) == truth).mean()))
        print(f"{which}: test accuracy per held-out size {dict(zip(X.CWRU_SIZES, np.round(accuracies, 3).tolist(), strict=True))}, "
              f"mean {np.mean(accuracies):.3f}", flush=True)


if __name__ == "__main__":
    main()
