"""CWRU 12 kHz drive-end bearing faults: three protocols, all split by recording segment *before*
windowing (1024-sample windows; training windows overlap by half inside the training segment
only; validation and test windows do not overlap at all).

(a) **Same load** (10 classes: normal + 3 fault types × 3 sizes, all loads pooled). There is
exactly one recording per class and load, so a split *by recording* is impossible here: each
recording is cut into contiguous time segments — first 70 % train, next 15 % validation, last
15 % test — with a gap of one window between segments, so no test sample is adjacent to or
shared with a training sample. It measures generalisation to a later stretch of the *same*
recording, not to a new bearing.
(b) **Cross-load**: train on the recordings of one motor load, test on each other load (all 12
ordered pairs, 10 classes); validation = the last 15 % of each training recording.
(c) **Unseen fault size**: train on two fault diameters, test on the third; the label is the
fault *type* (normal / inner race / ball / outer race) — a size never seen cannot be named, its
type can. Class probabilities of the 10-class heads are summed per type.

Normal-baseline caveat (PROVENANCE): normal data exist only at 0 hp (file 97), possibly sampled
at 48 kHz rather than 12 kHz. In (b) and (c) the normal recording is cut in time like (a) and its
test segment joins every test set, so "normal vs fault" is never a cross-load result and may be
helped by the sampling-rate difference.
"""

from __future__ import annotations

import time
from typing import Any

import numpy as np

from plantpulse.data.datasets import load_dataset
from plantpulse.model.metrics import confusion
from plantpulse.model.moe.training import TaskData, TaskSplits
from plantpulse.model.vibration_features import vibration_features
from plantpulse.pipelines.evaluate import experiments as X
from plantpulse.pipelines.evaluate import plots
from plantpulse.pipelines.evaluate.cwru_cases import cross_load_table, size_table, targets
from plantpulse.pipelines.evaluate.feature_mlp import mlp_probabilities
from plantpulse.pipelines.evaluate.gbm import class_probabilities
from plantpulse.pipelines.evaluate.moe import outputs, subset_rows
from plantpulse.pipelines.evaluate.records import EvalContext, ProtocolResult, RowBuilder
from plantpulse.pipelines.evaluate.scoring import class_scores, plain_model
from plantpulse.pipelines.train.tasks.cwru import CLASSES, FAULT_TASK
from plantpulse.pipelines.train.tasks.windows import chunked

TYPES: tuple[str, ...] = ("normal", "inner_race", "ball", "outer_race")
TYPE_OF = np.array([TYPES.index(c.rsplit("_", 1)[0]) if c != "normal" else 0 for c in CLASSES])
NORMAL_FILE = 97
MODELS = ("MoE teacher", "MoE student", "Gradient boosting (spectral features)", "Plain CNN",
          "MLP (spectral features)")


def load_of(ctx: EvalContext) -> dict[int, int]:
    """File number -> motor load (hp)."""
    key = "cwru:loads"
    if key not in ctx.cache:
        data = load_dataset("cwru", ctx.datasets_dir, verify="sizes")
        ctx.cache[key] = {r.file_number: r.load_hp for r in data.recordings}
    return ctx.cache[key]


def type_probs(probs: np.ndarray) -> np.ndarray:
    """(N, 10) class probabilities -> (N, 4) fault-type probabilities."""
    out = np.zeros((len(probs), len(TYPES)))
    for k in range(len(TYPES)):
        out[:, k] = probs[:, TYPE_OF == k].sum(1)
    return out


def predict_all(ctx: EvalContext, splits: TaskSplits, spec, seed: int, key: str,
                baselines: bool = True) -> dict[str, tuple[np.ndarray, float]]:
    """Test-set class probabilities (N, 10) and wall seconds per model of :data:`MODELS`."""
    test = subset_rows(splits.test, ctx.budget.eval_rows)
    out: dict[str, tuple[np.ndarray, float]] = {}
    if spec is not None:
        models = X.get(ctx, spec)
        # the same windows from the bundle the MoE was trained on (with the recipe's structured
        # features where it has them)
        own = subset_rows(X.own_splits(ctx, spec, "cwru", seed, FAULT_TASK.name).test, ctx.budget.eval_rows)
        assert np.array_equal(own.targets, test.targets) and np.array_equal(own.groups, test.groups)
        out["MoE teacher"] = (outputs(models.teacher, own)["probs"], models.wall_s)
        if models.student is not None:
            out["MoE student"] = (outputs(models.student, own)["probs"], 0.0)
    out["_target"], out["_groups"] = (test.targets, 0.0), (test.groups, 0.0)
    if not baselines:
        return out
    start = time.perf_counter()
    limit = min(ctx.budget.cwru_gbm_rows, ctx.budget.max_rows or len(splits.train))
    probs = gbm_probabilities(splits, (test,), limit, ctx.budget.gbm_iter, seed)[0]
    out[MODELS[2]] = (probs, time.perf_counter() - start)
    net, wall = plain_model(ctx, splits, seed, f"cwru-{key}-s{seed}")
    out[MODELS[3]] = (outputs(net, test)["probs"], wall)
    start = time.perf_counter()
    x = [chunked(part.sensor, vibration_features) for part in (splits.train, splits.val, test)]
    probs = mlp_probabilities(x[0], splits.train.targets, x[1], splits.val.targets, (x[2],), len(CLASSES), seed)[0]
    out[MODELS[4]] = (probs, time.perf_counter() - start)
    return out


def gbm_probabilities(splits: TaskSplits, parts: tuple[TaskData, ...], limit: int, gbm_iter: int,
                      seed: int) -> list[np.ndarray]:
    """Gradient boosting on spectrum and envelope features of the windows: class probabilities for
    each of ``parts``, trained on at most ``limit`` training windows (a seeded subset: overlapping
    windows, so a subset loses little) and early-stopped on the validation windows."""
    rows = np.arange(len(splits.train))
    if len(rows) > limit:
        rows = np.sort(np.random.default_rng(seed).choice(len(rows), limit, replace=False))
    train = chunked(splits.train.sensor, vibration_features, rows)
    val = chunked(splits.val.sensor, vibration_features, None)
    return [class_probabilities(train, splits.train.targets[rows], val, splits.val.targets,
                                chunked(part.sensor, vibration_features, None), len(CLASSES), gbm_iter, seed)
            for part in parts]


def _same_load(ctx: EvalContext, rows: dict[str, RowBuilder], details: dict) -> list:
    plot_list = []
    for seed in ctx.seeds:
        splits = X.bundle(ctx, "cwru", seed).splits[FAULT_TASK.name]
        first = seed == ctx.seeds[0]
        preds = predict_all(ctx, splits, X.task_spec(ctx, "cwru", seed), seed, "same-load", first or ctx.budget.baseline_all_seeds)
        truth = preds.pop("_target")[0]
        preds.pop("_groups")
        for model, (probs, wall) in preds.items():
            rows.setdefault(model, RowBuilder(model, "moe" if model.startswith("MoE") else "baseline")).add(
                "same-load", class_scores(probs, truth, len(CLASSES)), seed, wall)
        if first:
            details["same_load_test_windows"] = int(len(truth))
            matrix = confusion(preds["MoE teacher"][0].argmax(1), truth, len(CLASSES))
            plot_list.append(plots.confusion(ctx, matrix, CLASSES, "CWRU same-load, MoE teacher (test)",
                                             "cwru_same_load_confusion.png"))
            for name in X.ablation_names(ctx):
                models = X.get(ctx, X.ablation_spec(name, seed))
                probs = outputs(models.teacher, subset_rows(splits.test, ctx.budget.eval_rows))["probs"]
                rows.setdefault(name, RowBuilder(X.ABLATION_LABELS[name], "ablation")).add(
                    "same-load", class_scores(probs, truth, len(CLASSES)), seed, models.wall_s)
    return plot_list


def _cross_load(ctx: EvalContext, seed: int) -> tuple[dict[str, dict[tuple[int, int], dict[str, float]]], np.ndarray]:
    """Scores per model and (train load, test load) pair; the MoE teacher's pooled confusion matrix."""
    loads = load_of(ctx)
    results: dict[str, dict[tuple[int, int], dict[str, float]]] = {}
    pooled: dict[str, list] = {"pred": [], "true": []}
    for a in X.CWRU_LOADS:
        test_loads = [k for k in X.CWRU_LOADS if k != a]
        splits = X.bundle(ctx, "cwru", seed, protocol="load", test_loads=test_loads).splits[FAULT_TASK.name]
        preds = predict_all(ctx, splits, X.cwru_load_spec(ctx, a, seed), seed, f"load{a}")
        truth, groups = preds.pop("_target")[0], preds.pop("_groups")[0]
        load = np.array([loads[int(g)] for g in groups])
        for model, (probs, wall) in preds.items():
            for b in test_loads:
                sel = (load == b) | (groups == NORMAL_FILE)
                scores = class_scores(probs[sel], truth[sel], len(CLASSES))
                results.setdefault(model, {})[(a, b)] = scores | {"wall_s": wall / len(test_loads)}
        pooled["pred"].append(preds["MoE teacher"][0].argmax(1))
        pooled["true"].append(truth)
    return results, confusion(np.concatenate(pooled["pred"]), np.concatenate(pooled["true"]), len(CLASSES))


def _unseen_size(ctx: EvalContext, seed: int) -> tuple[dict[str, dict[float, dict[str, float]]], np.ndarray]:
    """Fault-type scores per model and held-out size; the MoE teacher's pooled confusion matrix."""
    results: dict[str, dict[float, dict[str, float]]] = {}
    pooled: dict[str, list] = {"pred": [], "true": []}
    for size in X.CWRU_SIZES:
        splits = X.bundle(ctx, "cwru", seed, protocol="fault_size", test_size=size).splits[FAULT_TASK.name]
        preds = predict_all(ctx, splits, X.cwru_size_spec(ctx, size, seed), seed, f"size{size}")
        truth = TYPE_OF[preds.pop("_target")[0].astype(int)]
        preds.pop("_groups")
        for model, (probs, wall) in preds.items():
            results.setdefault(model, {})[size] = class_scores(type_probs(probs), truth, len(TYPES)) | {"wall_s": wall}
        pooled["pred"].append(type_probs(preds["MoE teacher"][0]).argmax(1))
        pooled["true"].append(truth)
    return results, confusion(np.concatenate(pooled["pred"]), np.concatenate(pooled["true"]), len(TYPES))


def seed_mean(found: list[dict[str, dict[Any, dict[str, float]]]]) -> dict[str, dict[Any, dict[str, float]]]:
    """Per model and case (load pair or held-out size), each metric's mean over the seeds' results."""
    return {model: {case: {m: float(np.mean([f[model][case][m] for f in found])) for m in found[0][model][case]}
                    for case in cases} for model, cases in found[0].items()}


def run(ctx: EvalContext) -> ProtocolResult:
    rows: dict[str, RowBuilder] = {}
    details: dict[str, object] = {}
    plot_list = _same_load(ctx, rows, details)
    per_seed = []  # (cross-load pairs, unseen sizes) per seed: one model per held-out load / size and seed
    for seed in ctx.seeds:
        (cross, cross_confusion), (sizes, size_confusion) = _cross_load(ctx, seed), _unseen_size(ctx, seed)
        if seed == ctx.seeds[0]:
            plot_list.append(plots.confusion(ctx, cross_confusion, CLASSES, "CWRU cross-load, MoE teacher "
                                             f"(all 12 pairs pooled, seed {seed})", "cwru_cross_load_confusion.png"))
            plot_list.append(plots.confusion(ctx, size_confusion, TYPES, "CWRU unseen fault size, MoE teacher "
                                             f"(3 folds pooled, seed {seed})", "cwru_unseen_size_confusion.png"))
        for model, pairs in cross.items():
            for case, values in (("cross-load mean", list(pairs.values())),
                                 ("unseen size mean", list(sizes[model].values()))):
                metrics = {m: float(np.mean([v[m] for v in values])) for m in ("accuracy", "macro_f1")}
                rows[model].add(case, metrics, seed, sum(v["wall_s"] for v in values))
        per_seed.append((cross, sizes))
    cross, sizes = seed_mean([c for c, _ in per_seed]), seed_mean([z for _, z in per_seed])
    details |= {"cross_load": {m: {f"{a}->{b}": v for (a, b), v in p.items()} for m, p in cross.items()},
                "unseen_size": {m: {str(s): v for s, v in p.items()} for m, p in sizes.items()},
                "per_case_seeds": list(ctx.seeds)}
    built = tuple(r.row() for r in rows.values())
    return ProtocolResult(
        name="cwru", title="CWRU bearing fault diagnosis (12 kHz drive end)", protocol=__doc__.split("\n\n", 1)[1].strip(),
        columns=tuple((c, m) for c in ("same-load", "cross-load mean", "unseen size mean") for m in ("accuracy", "macro_f1")),
        rows=built, targets=targets(built, cross, sizes), plots=tuple(plot_list),
        extra_tables=(cross_load_table(cross), size_table(sizes)),
        notes=(f"Same-load: MoE seeds {list(ctx.seeds)} (the split does not depend on the seed); baselines "
               f"as listed per row. Cross-load and unseen size: seeds {list(ctx.seeds)} (one model per "
               f"held-out load / size and seed); the per-pair and per-size tables give the mean over those seeds.", f"Gradient boosting is fitted on {ctx.budget.cwru_gbm_rows} randomly chosen "
               f"training windows (of the half-overlapping ones) to fit the CPU budget.",
               *(() if X.per_task(ctx) else ("The ablation models are the main multi-task model with one "
                                              "change; they exist for the same-load split only.",))),
        details=details)
