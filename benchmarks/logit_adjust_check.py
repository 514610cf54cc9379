"""Would a post-hoc decision rule lift macro-F1? Logit adjustment (Menon et al., "Long-tail
learning via logit adjustment", ICLR 2021): predict argmax(log p_k - tau * log prior_k), with the
class prior of the training rows and tau chosen on validation. Checked on validation alone: the
validation rows are split in random halves 100 times per seed; tau is chosen on one half (ties
go to the tau nearest 0, no adjustment) and the other half's macro-F1 is compared with tau = 0.
Test rows are never scored. Reads the committed per-task MoE teachers (and refits the strongest
baseline where named below).

    python benchmarks/logit_adjust_check.py maintnet ai4i2020 weld_surface_yolo
"""

from __future__ import annotations

import os

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
os.environ.setdefault("OMP_NUM_THREADS", "1")

import argparse
from pathlib import Path

import numpy as np

from plantpulse.model.metrics import macro_f1
from plantpulse.pipelines.evaluate import experiments as X
from plantpulse.pipelines.evaluate.moe import outputs
from plantpulse.pipelines.evaluate.records import BUDGETS, EvalContext

TAUS = np.round(np.arange(-1.0, 2.01, 0.25), 2)
TASK = {"maintnet": "system:aircraft", "ai4i2020": "fault:milling", "weld_surface_yolo": "defect:weld"}


def adjusted_f1(probs: np.ndarray, y: np.ndarray, prior: np.ndarray, tau: float) -> float:
    return macro_f1((np.log(np.clip(probs, 1e-12, None)) - tau * np.log(prior)[None]).argmax(1), y)


def choose(probs: np.ndarray, y: np.ndarray, prior: np.ndarray) -> float:
    scores = [adjusted_f1(probs, y, prior, t) for t in TAUS]
    return float(min((t for t, s in zip(TAUS, scores, strict=True) if s >= max(scores) - 1e-12), key=abs))


def baselines(ctx: EvalContext, name: str) -> dict:
    if name == "maintnet":
        from plantpulse.pipelines.evaluate.maintnet import tfidf_logistic
        return {"TF-IDF + logistic regression": tfidf_logistic}
    if name == "ai4i2020":
        from plantpulse.pipelines.evaluate.ai4i import gbm
        return {"gradient boosting": gbm(ctx)}
    return {}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("datasets", nargs="+", choices=sorted(TASK))
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--datasets-dir", type=Path, default=Path(os.environ.get("PLANTPULSE_DATASETS", "../shared/datasets")))
    opts = parser.parse_args()
    ctx = EvalContext(opts.datasets_dir, tuple(opts.seeds), BUDGETS["per-task"], Path("/tmp/logit-adjust-work"),
                      Path("model/checkpoints"), Path("/tmp/logit-adjust-img"), True, ablations=False)
    print("| task | model | seed | tau (all validation) | held-out half: gain over tau = 0 (mean ± sd of 100 halvings) |")
    print("|---|---|---:|---:|---:|")
    for name in opts.datasets:
        for seed in ctx.seeds:
            full = X.bundle(ctx, name, seed).splits[TASK[name]]
            spec = X.task_spec(ctx, name, seed)
            own = X.own_splits(ctx, spec, name, seed, TASK[name])
            n = len(full.train.task.classes)
            prior = np.clip(np.bincount(full.train.targets.astype(int), minlength=n) / len(full.train), 1e-6, None)
            found = {"MoE teacher": outputs(X.get(ctx, spec).teacher, own.val)["probs"]}
            found |= {label: fit(full, seed)[0] for label, fit in baselines(ctx, name).items()}
            y = full.val.targets.astype(int)
            for label, probs in found.items():
                rng, gains = np.random.default_rng(seed), []
                for _ in range(100):
                    order = rng.permutation(len(y))
                    a, b = order[: len(y) // 2], order[len(y) // 2:]
                    tau = choose(probs[a], y[a], prior)
                    gains.append(adjusted_f1(probs[b], y[b], prior, tau) - adjusted_f1(probs[b], y[b], prior, 0.0))
                print(f"| {name} | {label} | {seed} | {choose(probs, y, prior):+.2f} | "
                      f"{np.mean(gains):+.3f} ± {np.std(gains):.3f} |", flush=True)


if __name__ == "__main__":
    main()
