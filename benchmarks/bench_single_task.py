"""Single-task MoE runs beside the gradient-boosting baseline of the same split, with the
evaluation protocols' own code (``plantpulse.pipelines.evaluate``).

    python benchmarks/bench_single_task.py cwru --epochs 3
    python benchmarks/bench_single_task.py cmapss-fd001 --epochs 4 --json out.json
    python benchmarks/bench_single_task.py cmapss-fd002 --preset default --device cuda --epochs 20

``cwru``: CWRU same-load (time segments of every recording), 10-class fault; the MoE teacher and
gradient boosting on spectral features, accuracy and macro-F1 on the test windows.
``cwru-loadK``: CWRU cross-load, trained on the recordings at K hp and tested on the other three
loads (the protocol's cross-load cases). ``azure``: Azure PdM, which component fails within 24 h (telemetry + maintenance log), the protocol's
time split; PR-AUC and macro-F1 at thresholds chosen on validation; gradient boosting on telemetry +
log features (given to the MoE too, as structured channels, with ``--dataset-options
'{"log_channels": true}'``). ``ai4i``: AI4I 2020 failure type from one row; gradient boosting on the measurements
plus power, temperature difference and wear × torque (given to the MoE too with
``--dataset-options '{"derived": true}'``); accuracy and macro-F1.
``cmapss-fd00N``: one C-MAPSS subset, split by engine, scored on the last window of every NASA
test engine, RUL capped at 125; the MoE teacher and gradient boosting on window features, RMSE.

The MoE is trained by the project's training job (what ``plantpulse train`` runs) for ``--epochs``
fine-tuning epochs of one pass over the task's training data each (``--pretrain-epochs`` of
pre-training first when given; no distillation), on the CPU with one thread unless ``--device``
says otherwise. The equivalent ``plantpulse train`` command is printed.
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

CASES = {
    "cwru": dict(dataset="cwru", task="fault:bearing", options={}),
    **{f"cwru-load{k}": dict(dataset="cwru", task="fault:bearing",
                              options={"protocol": "load", "test_loads": [x for x in range(4) if x != k]})
       for k in range(4)},
    "azure": dict(dataset="azure_pdm", task="failure24h:machine", options={}),
    "ai4i": dict(dataset="ai4i2020", task="fault:milling", options={}),
    **{f"cmapss-{s.lower()}": dict(dataset="cmapss", task="rul:turbofan", options={"subsets": [s]})
       for s in ("FD001", "FD002", "FD003", "FD004")},
}


def _context(args: argparse.Namespace, work: Path):
    from plantpulse.pipelines.evaluate.records import MOE_OVERRIDES, Budget, EvalContext

    overrides = dict(MOE_OVERRIDES) | json.loads(args.model_options)
    budget = Budget(name="single", preset=args.preset, moe_overrides=overrides, moe_steps=args.steps,
                    pretrain_epochs=args.pretrain_epochs, finetune_epochs=args.epochs, distill_epochs=0,
                    batch_size=args.batch_size, lr=args.lr, val_rows=args.val_rows, patience=args.patience, gbm_iter=300, max_rows=25_000, cwru_gbm_rows=3000,
                    device=args.device)
    return EvalContext(datasets_dir=Path(args.datasets), seeds=(args.seed,), budget=budget, work_dir=work / "runs",
                       checkpoint_dir=work / "checkpoints", image_dir=work / "images", ablations=False)


def _moe(ctx, case: dict, seed: int):
    """The trained MoE experiment of ``case`` and the task splits it was trained on (built with the
    case's options; the baselines may use the plain bundle of the same split)."""
    from plantpulse.pipelines.evaluate import experiments as X
    from plantpulse.pipelines.evaluate.moe import MoeSpec, train_commands

    spec = MoeSpec(name=f"single-{case['dataset']}-s{seed}", datasets=(case["dataset"],), tasks=(case["task"],),
                   seed=seed, pretrain=ctx.budget.pretrain_epochs > 0, distill=False,
                   bundle_options={case["dataset"]: case["options"]} if case["options"] else {})
    print("\n".join(train_commands(ctx, spec)), flush=True)
    return X.get(ctx, spec), X.bundle(ctx, case["dataset"], seed, **case["options"]).splits[case["task"]]


def run_cwru(ctx, seed: int, case: str = "cwru") -> dict[str, dict[str, float]]:
    from plantpulse.pipelines.evaluate.cwru import gbm_probabilities
    from plantpulse.pipelines.evaluate.moe import outputs
    from plantpulse.pipelines.evaluate.scoring import class_scores
    from plantpulse.pipelines.train.tasks.cwru import CLASSES

    models, splits = _moe(ctx, CASES[case], seed)
    truth = splits.test.targets
    out = {"MoE teacher": class_scores(outputs(models.teacher, splits.test)["probs"], truth, len(CLASSES))
           | {"train_s": models.wall_s}}
    start = time.perf_counter()
    probs = gbm_probabilities(splits, (splits.test,), ctx.budget.cwru_gbm_rows, ctx.budget.gbm_iter, seed)[0]
    out["Gradient boosting (spectral features)"] = class_scores(probs, truth, len(CLASSES)) | {
        "train_s": time.perf_counter() - start}
    out["_routing"] = _routing(models.teacher, splits.test)
    return out


def run_azure(ctx, seed: int) -> dict[str, dict[str, float]]:
    """Azure PdM 24 h failure (four components) on the protocol's time split: PR-AUC and macro-F1 at
    per-component thresholds chosen on validation; GBM on telemetry + log features."""
    from plantpulse.model.metrics import best_f1_thresholds
    from plantpulse.pipelines.evaluate import azure as A
    from plantpulse.pipelines.evaluate import experiments as X
    from plantpulse.pipelines.evaluate.gbm import fit_multilabel, multilabel_proba
    from plantpulse.pipelines.evaluate.moe import outputs
    from plantpulse.pipelines.evaluate.scoring import multilabel_scores
    from plantpulse.pipelines.train.tasks.azure import FAILURE_TASK

    models, own = _moe(ctx, CASES["azure"], seed)
    splits = X.bundle(ctx, "azure_pdm", seed).splits[FAILURE_TASK.name]  # the same samples; the baseline's inputs
    assert np.array_equal(own.test.targets, splits.test.targets)

    def scored(val_probs: np.ndarray, test_probs: np.ndarray) -> dict[str, float]:
        return multilabel_scores(test_probs, splits.test.targets, best_f1_thresholds(val_probs, splits.val.targets))

    out = {"MoE teacher": scored(outputs(models.teacher, own.val)["probs"],
                                 outputs(models.teacher, own.test)["probs"]) | {"train_s": models.wall_s}}
    given = tuple(CASES["azure"]["options"].get("modalities", ("sensor", "text")))
    inputs = "sensor+text" if set(given) == {"sensor", "text"} else given[0]
    for which in dict.fromkeys((inputs, "sensor+text")):  # the MoE's inputs, and the strongest baseline's
        start = time.perf_counter()
        x = [A.features(ctx, d, which) for d in (splits.train, splits.val, splits.test)]
        fitted = fit_multilabel(x[0], splits.train.targets, x[1], splits.val.targets, ctx.budget.gbm_iter, seed)
        out[f"Gradient boosting, {A.MODALITY_LABEL[which]}"] = scored(
            multilabel_proba(fitted, x[1]), multilabel_proba(fitted, x[2])) | {"train_s": time.perf_counter() - start}
    out["_routing"] = _routing(models.teacher, own.test)
    return out


def run_ai4i(ctx, seed: int) -> dict[str, dict[str, float]]:
    """AI4I 2020 failure type (six classes) on the protocol's stratified split: accuracy, macro-F1."""
    from plantpulse.pipelines.evaluate import ai4i as A
    from plantpulse.pipelines.evaluate import experiments as X
    from plantpulse.pipelines.evaluate.moe import outputs
    from plantpulse.pipelines.evaluate.scoring import class_scores
    from plantpulse.pipelines.train.tasks.ai4i import CLASSES, FAULT_TASK

    models, own = _moe(ctx, CASES["ai4i"], seed)
    splits = X.bundle(ctx, "ai4i2020", seed).splits[FAULT_TASK.name]  # the same rows; the baseline's channels
    truth = splits.test.targets
    assert np.array_equal(own.test.groups, splits.test.groups)
    out = {"MoE teacher": class_scores(outputs(models.teacher, own.test)["probs"], truth, len(CLASSES))
           | {"train_s": models.wall_s}}
    start = time.perf_counter()
    _, test_probs = A.gbm(ctx)(splits, seed)
    out["Gradient boosting (measurements + power, dT, wear*torque)"] = class_scores(test_probs, truth, len(CLASSES)) | {
        "train_s": time.perf_counter() - start}
    out["_routing"] = _routing(models.teacher, own.test)
    return out


def run_cmapss(ctx, seed: int, case: str) -> dict[str, dict[str, float]]:
    from plantpulse.pipelines.evaluate import rul_baselines as B
    from plantpulse.pipelines.evaluate.moe import outputs
    from plantpulse.pipelines.evaluate.scoring import rul_scores
    from plantpulse.pipelines.train.tasks.cmapss import RUL_TASK

    models, splits = _moe(ctx, CASES[case], seed)
    o = outputs(models.teacher, splits.test)
    out = {"MoE teacher": rul_scores(o["mean"], o["target"], RUL_TASK.rul_cap, o["lower"], o["upper"])
           | {"train_s": models.wall_s}}
    start = time.perf_counter()
    pred = B.gbm_rul(splits.train, splits.val, splits.test, ctx.budget.gbm_iter, seed, ctx.budget.max_rows)
    out["Gradient boosting (window features)"] = rul_scores(pred.mean, splits.test.targets, B.CAP) | {
        "train_s": time.perf_counter() - start}
    out["_routing"] = _routing(models.teacher, splits.test)
    return out


def _routing(model, test) -> dict[str, float]:
    """How many routed experts the sensor tokens use (> 1 % of assignments), of how many."""
    from plantpulse.pipelines.evaluate.routing import modality_load

    load = modality_load(model, test)[0]
    if load.size == 0:  # a dense model (ffn="dense") routes nothing
        return {"experts_used": 0, "experts": 0, "top_share": 0.0}
    share = load / max(load.sum(), 1.0)
    return {"experts_used": int((share > 0.01).sum()), "experts": int(len(share)),
            "top_share": float(share.max())}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("case", choices=sorted(CASES))
    parser.add_argument("--epochs", type=int, default=3, help="fine-tuning epochs (passes over the data)")
    parser.add_argument("--pretrain-epochs", type=int, default=0)
    parser.add_argument("--steps", type=int, default=None, help="steps per epoch (default: one pass)")
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--lr", type=float, default=2e-3)
    parser.add_argument("--preset", default="tiny")
    parser.add_argument("--model-options", default="{}", help="JSON dict of preset changes")
    parser.add_argument("--dataset-options", default="{}",
                        help='JSON dict of task-builder options, e.g. \'{"window": 50}\' for C-MAPSS')
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--val-rows", type=int, default=1024, help="validation rows scored each epoch")
    parser.add_argument("--patience", type=int, default=3, help="early-stopping patience in epochs")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--device", default="cpu", help="where the MoE trains (cpu, cuda); baselines use the CPU")
    parser.add_argument("--datasets", default=os.environ.get("PLANTPULSE_DATASETS", "/work/shared/datasets"))
    parser.add_argument("--work-dir", default=None, help="keep runs and checkpoints here (default: temporary)")
    parser.add_argument("--json", default=None)
    args = parser.parse_args()

    import torch

    torch.set_num_threads(args.threads)
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(args.work_dir) if args.work_dir else Path(tmp)
        ctx = _context(args, work)
        CASES[args.case]["options"] = CASES[args.case]["options"] | json.loads(args.dataset_options)
        start = time.perf_counter()
        runners = {"cwru": run_cwru, "azure": run_azure, "ai4i": run_ai4i}
        if args.case in runners:
            results = runners[args.case](ctx, args.seed)
        elif args.case.startswith("cwru-load"):
            results = run_cwru(ctx, args.seed, args.case)
        else:
            results = run_cmapss(ctx, args.seed, args.case)
        results["_wall_s"] = {"total": round(time.perf_counter() - start, 1)}
    for model, metrics in results.items():
        print(f"{model:40s} " + "  ".join(f"{k} {v:.4g}" for k, v in metrics.items()))
    if args.json:
        Path(args.json).write_text(json.dumps({"case": args.case, "args": vars(args), "results": results}, indent=1))


if __name__ == "__main__":
    main()
