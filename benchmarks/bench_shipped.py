"""The shipped checkpoints (``model/shipped``) beside the baselines of the same split: accuracy,
the student's gap to its teacher, and fp32 against int8 scoring time.

    python benchmarks/bench_shipped.py cmapss      # turbofan RUL: FD001 validation and NASA test engines
    python benchmarks/bench_shipped.py cwru        # bearing fault class: CWRU same-load, drive end only
    python benchmarks/bench_shipped.py cmapss --teacher T.safetensors --student S.safetensors

``cmapss``: the FD001 engine split of ``--seed`` (0 for the shipped files) with 50-cycle windows
(what ``make shipped-model`` trains on), validation cuts from cycle 50 or, with ``--min-history N``,
from cycle N (left-padded, as a short test engine is); RMSE, PHM08 and the 80 % interval's coverage and width on the 500 validation cuts and on the
last window of each of the 100 NASA test engines; gradient boosting on 30-cycle window features
(on the same data, and on full windows only) and the quantile MLP fitted on the same training
engines by the evaluation protocol's own code. ``cwru``: the same-load split (70 / 15 / 15 % of each recording in time), drive-end channel;
accuracy and macro-F1; gradient boosting on spectrum and envelope features of the same windows;
then the fault the student names for each of the demo's 10 bearings (data/sample). Times are the
median of ``--repeats`` passes over the validation (cmapss) or test (cwru) windows, one thread.
Needs the full datasets (``PLANTPULSE_DATASETS``).
"""

from __future__ import annotations

import os

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")  # before torch starts its thread pool

import argparse
import json
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
SHIPPED = ROOT / "model" / "shipped"


def _timed(fn, repeats: int):
    times, out = [], None
    for _ in range(repeats):
        start = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - start)
    return out, float(np.median(times))


def _variants(teacher_path: Path, student_path: Path):
    from plantpulse.model.moe.checkpoint import load_checkpoint
    from plantpulse.model.moe.quantize import quantize_for_cpu

    teacher, t_meta = load_checkpoint(teacher_path)
    student, s_meta = load_checkpoint(student_path)
    return [("MoE teacher", teacher, t_meta), ("MoE student", student, s_meta),
            ("MoE student, int8", quantize_for_cpu(student), s_meta)]


def run_cmapss(args: argparse.Namespace) -> dict[str, dict[str, float]]:
    from plantpulse.pipelines.evaluate import experiments as X
    from plantpulse.pipelines.evaluate import rul_baselines as B
    from plantpulse.pipelines.evaluate.cmapss import _quantile_mlp, calibrated
    from plantpulse.pipelines.evaluate.moe import outputs
    from plantpulse.pipelines.evaluate.records import Budget, EvalContext
    from plantpulse.pipelines.evaluate.scoring import rul_scores
    from plantpulse.pipelines.train.tasks.cmapss import RUL_TASK

    work = Path(tempfile.mkdtemp(prefix="bench-shipped-"))
    seed = args.seed
    ctx = EvalContext(datasets_dir=Path(args.datasets), seeds=(seed,), budget=Budget(name="shipped"),
                      work_dir=work / "runs", checkpoint_dir=work / "checkpoints", image_dir=work / "images",
                      ablations=False)
    short_history = {"min_history": args.min_history} if args.min_history else {}
    long = X.bundle(ctx, "cmapss", seed, subsets=["FD001"], window=50, **short_history).splits[RUL_TASK.name]
    out: dict[str, dict[str, float]] = {}
    for label, model, meta in _variants(args.teacher or SHIPPED / "plantpulse-teacher-cmapss.safetensors",
                                        args.student or SHIPPED / "plantpulse-student-cmapss.safetensors"):
        for part, data in (("val", long.val), ("test", long.test)):
            o, seconds = _timed(lambda m=model, d=data: outputs(m, d), args.repeats if part == "val" else 1)
            o = calibrated(o, meta.extra)
            out[f"{label} | {part}"] = rul_scores(o["mean"], o["target"], RUL_TASK.rul_cap, o["lower"], o["upper"]) | {
                "seconds": seconds, "windows": float(len(data))}
    short = X.bundle(ctx, "cmapss", seed, subsets=["FD001"]).splits[RUL_TASK.name]
    fits = {"Gradient boosting (window features)": short}
    if short_history:  # the same data as the MoE: short histories too, scored on its validation cuts
        fits[f"Gradient boosting (window features, histories from {args.min_history} cycles)"] = X.bundle(
            ctx, "cmapss", seed, subsets=["FD001"], **short_history).splits[RUL_TASK.name]
    for name, splits in fits.items():
        for part, data in (("val", splits.val), ("test", splits.test)):
            pred = B.gbm_rul(splits.train, splits.val, data, ctx.budget.gbm_iter, seed, ctx.budget.max_rows)
            out[f"{name} | {part}"] = rul_scores(pred.mean, data.targets, B.CAP)
    pred = _quantile_mlp(ctx, short, 0, "FD001", seed)
    out["Quantile MLP | test"] = rul_scores(pred.mean, short.test.targets, B.CAP, pred.lower, pred.upper)
    return out


def run_cwru(args: argparse.Namespace) -> dict[str, dict[str, float]]:
    import pandas as pd

    from plantpulse.model.moe.inference import load_moe
    from plantpulse.pipelines.evaluate.cwru import gbm_probabilities
    from plantpulse.pipelines.evaluate.moe import outputs
    from plantpulse.pipelines.evaluate.scoring import class_scores
    from plantpulse.pipelines.train.tasks import build_bundle
    from plantpulse.pipelines.train.tasks.cwru import CLASSES

    splits = build_bundle("cwru", Path(args.datasets), seed=0, channels=["drive_end_accel"]).splits["fault:bearing"]
    student_path = args.student or SHIPPED / "plantpulse-student-cwru.safetensors"
    out: dict[str, dict[str, float]] = {}
    for label, model, _ in _variants(args.teacher or SHIPPED / "plantpulse-teacher-cwru.safetensors", student_path):
        for part, data in (("val", splits.val), ("test", splits.test)):
            o, seconds = _timed(lambda m=model, d=data: outputs(m, d), args.repeats if part == "test" else 1)
            out[f"{label} | {part}"] = class_scores(o["probs"], data.targets, len(CLASSES)) | {
                "seconds": seconds, "windows": float(len(data))}
    for part, probs in zip(("val", "test"), gbm_probabilities(splits, (splits.val, splits.test), 3000, 300, 0),
                           strict=True):
        out[f"Gradient boosting (spectral features) | {part}"] = class_scores(
            probs, getattr(splits, part).targets, len(CLASSES))
    frame = pd.read_csv(ROOT / "data" / "sample" / "sensors" / "cwru_bearings_de_0hp.csv")
    predictor = load_moe(student_path, quantize=True).for_asset_type("bearing")
    named = 0
    for asset, rows_of in frame.groupby("asset", sort=True):
        window = rows_of["drive_end_accel"].to_numpy(np.float32)[-predictor.window_length:]
        found = predictor.predict_batch(window[None, :, None], ["drive_end_accel"], "bearing")[0].fault_probs
        top = max(found, key=lambda k: found[k])
        named += asset.endswith(top.replace("_", "-").replace(".", ""))
        print(f"  demo bearing {asset:36s} -> {top} ({found[top]:.3f})")
    out["demo bearings named correctly"] = {"count": float(named), "of": float(frame["asset"].nunique())}
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("case", choices=["cmapss", "cwru"])
    parser.add_argument("--teacher", type=Path, default=None, help="default: the shipped teacher of the case")
    parser.add_argument("--student", type=Path, default=None, help="default: the shipped student of the case")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--seed", type=int, default=0,
                        help="C-MAPSS engine split (the seed the checkpoints were trained with)")
    parser.add_argument("--min-history", type=int, default=0,
                        help="C-MAPSS: validation cuts (and the baselines' training windows) from this many "
                             "cycles on, left-padded to the window; 0 (default): full windows only, as the "
                             "shipped files were trained")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--datasets", default=os.environ.get("PLANTPULSE_DATASETS", "../shared/datasets"))
    parser.add_argument("--json", default=None, help="also write the figures here")
    args = parser.parse_args()
    import torch

    torch.set_num_threads(args.threads)
    figures = run_cmapss(args) if args.case == "cmapss" else run_cwru(args)
    for name, values in figures.items():
        print(f"{name:52s} " + "  ".join(f"{k}={v:.4g}" for k, v in values.items()), flush=True)
    if args.json:
        Path(args.json).write_text(json.dumps(figures, indent=1) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
