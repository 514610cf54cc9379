"""Choose the CWRU MoE recipe for cross-load without its test loads: nested leave-one-load-out.

The cross-load protocol trains on the recordings of one motor load and tests on each of the other
three, so every load is a test load of some pair, and the same-load validation windows (99-100 %
for every recipe) cannot rank recipes. Here each variant trains the evaluation's cross-load models
(``plantpulse evaluate --budget per-task``: one MoE per training load, the budget's CWRU recipe with
the variant's changes) and every (train load, test load) pair is scored. The recipe for test load
J is then the variant with the best mean accuracy over the pairs that involve neither J's data in
training nor in scoring (train K -> score L, with K, L != J), and it is reported on J's own pairs
(train K -> test J). Nothing that decides a variant for J reads J's recordings.

    python benchmarks/cwru_cross_load_select.py run ref --seeds 0 1 2 --json benchmarks/results/cwru-select/ref.json
    python benchmarks/cwru_cross_load_select.py run structured --seeds 0 1 2 --json benchmarks/results/cwru-select/structured.json
    python benchmarks/cwru_cross_load_select.py compare benchmarks/results/cwru-select/*.json

Variants: ``ref`` (the recipe before), ``structured`` (the chosen one), ``structured-tokens`` (the
features as tokens without the path) and ``mlp`` (no MoE: an MLP on the same features, listed
beside the MoE variants but never chosen).

``run`` trains on one thread (start one process per free core); ``compare`` prints the selection
per test load and seed, and each variant's plain 12-pair mean beside it (which is what
docs/RESULTS.md reports for the chosen recipe).
"""

from __future__ import annotations

import os

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")  # before torch starts its thread pool
os.environ.setdefault("OMP_NUM_THREADS", "1")

import argparse
import json
import tempfile
import time
from pathlib import Path

import numpy as np

# changes to the evaluation budget's CWRU recipe
VARIANTS: dict[str, dict] = {
    "ref": {},
    # the gradient-boosting baseline's spectrum/envelope features as structured feature tokens,
    # plus the structured-feature path (an MLP over them before the head)
    "structured": {"options": {"structured": True}, "overrides": {"feature_path": 128}},
    "structured-tokens": {"options": {"structured": True}},
    # no MoE: a one-hidden-layer MLP (scikit-learn, width 128) on the same standardised features,
    # its epoch chosen on the training load's validation windows; is the path all that matters?
    "mlp": {"options": {"structured": True}},
}
LOADS = (0, 1, 2, 3)


def _context(datasets: Path, work: Path, variant: str, seed: int):
    from plantpulse.pipelines.evaluate.records import BUDGETS, EvalContext

    base = BUDGETS["per-task"]
    recipe = dict(base.recipes.get("cwru", {}))
    for key, value in VARIANTS[variant].items():
        recipe[key] = {**recipe.get(key, {}), **value} if isinstance(value, dict) else value
    budget = base.model_copy(update={"recipes": {**base.recipes, "cwru": recipe}})
    return EvalContext(datasets_dir=datasets, seeds=(seed,), budget=budget, work_dir=work / "runs",
                       checkpoint_dir=work / "checkpoints", image_dir=work / "images", ablations=False)


def run(variant: str, seeds: list[int], datasets: Path, work: Path) -> dict:
    """Accuracy of the variant's network (under the key ``moe``: the MoE teacher, or the MLP of the
    ``mlp`` variant) and, for ``ref``, of gradient boosting (the protocol's strongest baseline) on
    every (train load, test load) pair, per seed."""
    from plantpulse.pipelines.evaluate import experiments as X
    from plantpulse.pipelines.evaluate.cwru import NORMAL_FILE, gbm_probabilities, load_of
    from plantpulse.pipelines.evaluate.moe import outputs
    from plantpulse.pipelines.train.tasks.cwru import FAULT_TASK

    out: dict = {"variant": variant, "recipe": VARIANTS[variant], "seeds": {}}
    for seed in seeds:
        ctx = _context(datasets, work / variant / f"s{seed}", variant, seed)
        loads = load_of(ctx)
        pairs: dict[str, dict[str, float]] = {"moe": {}, "gbm": {}}
        walls = []
        for a in LOADS:
            spec = X.cwru_load_spec(ctx, a, seed)
            start = time.perf_counter()
            own = X.own_splits(ctx, spec, "cwru", seed, FAULT_TASK.name)
            test = own.test
            if variant == "mlp":
                probs = {"moe": _mlp(own, seed)}
            else:
                probs = {"moe": outputs(X.get(ctx, spec).teacher, test)["probs"]}
            walls.append(time.perf_counter() - start)
            if variant == "ref":
                plain = X.bundle(ctx, "cwru", seed, protocol="load",
                                 test_loads=[k for k in LOADS if k != a]).splits[FAULT_TASK.name]
                probs["gbm"] = gbm_probabilities(plain, (plain.test,), ctx.budget.cwru_gbm_rows,
                                                 ctx.budget.gbm_iter, seed)[0]
            load = np.array([loads[int(g)] for g in test.groups])
            for b in (k for k in LOADS if k != a):
                sel = (load == b) | (test.groups == NORMAL_FILE)
                for model, p in probs.items():
                    pairs[model][f"{a}->{b}"] = float((p[sel].argmax(1) == test.targets[sel]).mean())
        out["seeds"][str(seed)] = {"pairs": {k: v for k, v in pairs.items() if v},
                                   "moe_wall_s": [round(w, 1) for w in walls]}
        print(f"{variant} seed {seed}: MoE 12-pair mean {np.mean(list(pairs['moe'].values())):.4f}", flush=True)
    return out


def _mlp(splits, seed: int) -> np.ndarray:
    """The evaluation's feature MLP on the bundle's structured features (test probabilities)."""
    from plantpulse.pipelines.evaluate.feature_mlp import mlp_probabilities
    from plantpulse.pipelines.train.tasks.cwru import CLASSES

    return mlp_probabilities(splits.train.features, splits.train.targets, splits.val.features,
                             splits.val.targets, (splits.test.features,), len(CLASSES), seed)[0]


def _pairs(record: dict, seed: str, model: str = "moe") -> dict[tuple[int, int], float]:
    return {tuple(int(x) for x in k.split("->")): v for k, v in record["seeds"][seed]["pairs"][model].items()}


def compare(all_records: list[dict]) -> None:
    """The nested choice among the MoE variants of ``all_records``; the ``mlp`` variant (a
    baseline, not an MoE recipe) is only listed beside them."""
    seeds = sorted(set.intersection(*(set(r["seeds"]) for r in all_records)), key=int)
    records = [r for r in all_records if r["variant"] != "mlp"]
    names = [r["variant"] for r in records]
    print("| seed | test load | " + " | ".join(f"{n}: selection / test" for n in names) + " | chosen | chosen, test |")
    print("|---|---:|" + "---|" * len(names) + "---|---:|")
    chosen_means: dict[str, list[float]] = {s: [] for s in seeds}
    for seed in seeds:
        tables = {r["variant"]: _pairs(r, seed) for r in records}
        for j in LOADS:
            sel = {n: np.mean([v for (a, b), v in t.items() if j not in (a, b)]) for n, t in tables.items()}
            test = {n: np.mean([v for (a, b), v in t.items() if b == j]) for n, t in tables.items()}
            best = max(names, key=lambda n: (sel[n], -names.index(n)))  # ties: the earlier variant
            chosen_means[seed].extend(v for (a, b), v in tables[best].items() if b == j)
            cells = " | ".join(f"{100 * sel[n]:.2f} / {100 * test[n]:.2f}" for n in names)
            print(f"| {seed} | {j} | {cells} | {best} | {100 * test[best]:.2f} |")
    print()
    for r in all_records:
        n = r["variant"]
        means = [100 * np.mean(list(_pairs(r, s).values())) for s in seeds]
        print(f"{n}: 12-pair test mean per seed {', '.join(f'{m:.2f}' for m in means)}; "
              f"mean {np.mean(means):.2f} +- {np.std(means, ddof=1) if len(means) > 1 else 0:.2f}")
    picked = [100 * np.mean(chosen_means[s]) for s in seeds]
    print(f"nested choice: 12-pair test mean per seed {', '.join(f'{m:.2f}' for m in picked)}; mean {np.mean(picked):.2f}")
    gbm = [r for r in all_records if "gbm" in next(iter(r["seeds"].values()))["pairs"]]
    if gbm:
        means = [100 * np.mean(list(_pairs(gbm[0], s, "gbm").values())) for s in seeds]
        print(f"gradient boosting: 12-pair test mean per seed {', '.join(f'{m:.2f}' for m in means)}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    runner = sub.add_parser("run", help="train one variant's cross-load models and score every pair")
    runner.add_argument("variant", choices=sorted(VARIANTS))
    runner.add_argument("--seeds", type=int, nargs="+", default=[0])
    runner.add_argument("--datasets", default=os.environ.get("PLANTPULSE_DATASETS", "../shared/datasets"))
    runner.add_argument("--work-dir", default=None, help="keep the checkpoints here (default: temporary)")
    runner.add_argument("--json", required=True)
    comparer = sub.add_parser("compare", help="nested leave-one-load-out selection over run outputs")
    comparer.add_argument("records", nargs="+")
    args = parser.parse_args()
    if args.command == "compare":
        compare([json.loads(Path(p).read_text()) for p in args.records])
        return
    import torch

    torch.set_num_threads(1)
    with tempfile.TemporaryDirectory() as tmp:
        record = run(args.variant, args.seeds, Path(args.datasets), Path(args.work_dir or tmp))
    Path(args.json).parent.mkdir(parents=True, exist_ok=True)
    Path(args.json).write_text(json.dumps(record, indent=1))


if __name__ == "__main__":
    main()
