"""Is a time-to-failure model worth adding to Azure PdM? Gradient boosting regressed on the
protocol's 34 features (telemetry summaries and the log features) to the hours to the machine's
next failure, capped at C hours, and ranked by its prediction: the concordance it reaches on
validation and on test, beside the protocol's C-index of the 24 h models (docs/RESULTS.md ranks
samples by their largest 24 h failure probability).

Training durations are censored at the validation start (as the protocol's survival baselines):
a training sample with no failure before 2015-03-01 has only a lower bound on its time to failure,
and is kept only when that bound reaches the cap. An ablation that chooses nothing: no model or
recipe of the product is picked from it.

    PLANTPULSE_DATASETS=../shared/datasets python benchmarks/azure_ttf_gbm.py
"""

from __future__ import annotations

import os

os.environ.setdefault("OMP_NUM_THREADS", "1")

import numpy as np

CAPS = (72, 168, 336, 720)
VAL_START = np.datetime64("2015-03-01T00", "h")


def main() -> None:
    from sklearn.ensemble import HistGradientBoostingRegressor

    from plantpulse.data.datasets import load_dataset
    from plantpulse.model.metrics import concordance
    from plantpulse.pipelines.train.tasks import build_bundle
    from plantpulse.pipelines.train.tasks.azure import FAILURE_TASK
    from plantpulse.pipelines.train.tasks.azure_features import baseline_features

    root = os.environ.get("PLANTPULSE_DATASETS", "../shared/datasets")
    raw = load_dataset("azure_pdm", root)
    splits = build_bundle("azure_pdm", root, seed=0).splits[FAILURE_TASK.name]
    parts = (splits.train, splits.val, splits.test)
    x = [baseline_features(raw, d.sensor, d.groups, np.asarray(d.info["time"])) for d in parts]
    ttf = [np.asarray(d.info["ttf_hours"], float) for d in parts]
    seen = [np.asarray(d.info["failure_observed"], bool) for d in parts]
    left = (VAL_START - np.asarray(splits.train.info["time"]).astype("datetime64[h]")).astype(float)
    observed = seen[0] & (ttf[0] <= left)
    duration = np.where(observed, ttf[0], np.minimum(ttf[0], left))
    print("cap (h) | training rows kept | validation C-index | test C-index")
    for cap in CAPS:
        keep = observed | (duration >= cap)
        model = HistGradientBoostingRegressor(max_iter=200, learning_rate=0.05, random_state=0)
        model.fit(x[0][keep], np.log1p(np.minimum(duration, cap))[keep])
        val, test = (concordance(ttf[i], -model.predict(x[i]), seen[i]) for i in (1, 2))
        print(f"{cap} | {keep.mean():.1%} | {val:.3f} | {test:.3f}")


if __name__ == "__main__":
    main()
