"""A short version of every protocol on the real data, from the committed checkpoints.

One run of all protocols (quick budget: tiny baseline fits, test sets capped) checks that the
pipeline runs end to end and that its figures are computed correctly: the C-MAPSS RMSE and PHM08
score in the results are recomputed here from the per-engine predictions with independent code,
and the splits the protocols use are checked for shared units / recordings / sources and for
time order.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest

from plantpulse.pipelines.evaluate import experiments as X
from plantpulse.pipelines.evaluate.cmapss import case_splits, trained_subsets
from plantpulse.pipelines.evaluate.protocols import PROTOCOLS, run_protocols
from plantpulse.pipelines.evaluate.records import BUDGETS, EvalContext

pytestmark = [pytest.mark.slow, pytest.mark.real_data]
CHECKPOINTS = Path(__file__).resolve().parents[3] / "model" / "checkpoints"


@pytest.fixture(scope="module")
def ctx(datasets_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> EvalContext:
    """The committed checkpoints' budget (one MoE per task), with the quick budget's small baseline
    fits and capped test sets."""
    out = tmp_path_factory.mktemp("evaluate")
    quick = BUDGETS["quick"]
    budget = BUDGETS["per-task"].model_copy(update={
        "name": "quick", "gbm_iter": quick.gbm_iter, "max_rows": quick.max_rows, "eval_rows": quick.eval_rows,
        "qmlp_epochs": quick.qmlp_epochs})
    return EvalContext(datasets_dir, (0,), budget, out / "work", CHECKPOINTS, out / "img",
                       from_checkpoint=True, ablations=False, echo=lambda _: None)


@pytest.fixture(scope="module")
def results(ctx: EvalContext):
    found, meta = run_protocols(ctx, list(PROTOCOLS), "test")
    assert meta["failed"] == []
    return {r.name: r for r in found}


def test_every_protocol_reports_moe_and_baselines(results):
    for name, result in results.items():
        if name == "experts":
            assert result.plots, "no expert-load heatmap"
            continue
        families = {row.family for row in result.rows}
        assert {"moe", "baseline"} <= families, name
        for row in result.rows:
            values = [v for cell in row.cells.values() for v in cell]
            assert values and all(math.isfinite(v) for v in values), (name, row.model)


def test_cmapss_rmse_and_phm08_match_an_independent_computation(results):
    result = results["cmapss"]
    preds = result.details["predictions"]["teacher"]
    group, true, mean = (np.asarray(preds[k], dtype=float) for k in ("group", "true", "mean"))
    row = next(r for r in result.rows if r.model == "MoE teacher")
    for index, subset in enumerate(("FD001", "FD002", "FD003", "FD004")):
        sel = group // 1000 == index
        d = np.clip(mean[sel], 0, 125) - np.clip(true[sel], 0, 125)
        score = sum(math.exp(-x / 13) - 1 if x < 0 else math.exp(x / 10) - 1 for x in d)
        assert row.cells[(subset, "rmse")][0] == pytest.approx(math.sqrt(np.mean(d**2)), rel=1e-6)
        assert row.cells[(subset, "phm08")][0] == pytest.approx(score, rel=1e-6)
    assert len(true) == 100 + 259 + 100 + 248  # the last window of every NASA test engine


def test_cmapss_test_engines_never_train_and_validation_is_by_engine(ctx):
    splits = X.bundle(ctx, "cmapss", 0).splits["rul:turbofan"]
    assert not set(splits.train.groups) & set(splits.val.groups)
    assert len(np.unique(splits.test.groups)) == len(splits.test)  # one window per test engine
    for index, subset in enumerate(("FD001", "FD002", "FD003", "FD004")):  # each per-task MoE's own split
        spec = X.task_spec(ctx, "cmapss", 0, name=f"cmapss-{subset}", subsets=[subset])
        own, mine = case_splits(ctx, spec, subset, 0)  # own: what it trained on (maybe pooled subsets)
        assert own.train.sensor.shape[1] == 50 and not set(own.train.groups) & set(own.val.groups)
        assert subset in trained_subsets(spec, subset)
        whole = splits.test.groups[splits.test.groups // 1000 == index] % 1000
        assert np.array_equal(mine.test.groups % 1000, whole)  # the same NASA test engines, in order


def test_cwru_cross_load_and_unseen_size_splits(ctx):
    from plantpulse.pipelines.evaluate.cwru import load_of

    loads = load_of(ctx)
    for a in X.CWRU_LOADS:
        others = [k for k in X.CWRU_LOADS if k != a]
        s = X.bundle(ctx, "cwru", 0, protocol="load", test_loads=others).splits["fault:bearing"]
        faults = {name: set(d.groups) - {97} for name, d in (("train", s.train), ("test", s.test))}
        assert not faults["train"] & faults["test"]
        assert {loads[g] for g in faults["test"]} == set(others) and {loads[g] for g in faults["train"]} == {a}
        spans = [d.sensor.spans() for d in (s.train, s.val, s.test)]
        covered = [np.zeros(len(s.train.sensor.series), bool) for _ in spans]
        for mask, part in zip(covered, spans, strict=True):
            for begin, end in part:
                mask[begin:end] = True
        assert not (covered[0] & covered[2]).any() and not (covered[1] & covered[2]).any()
    s = X.bundle(ctx, "cwru", 0, protocol="fault_size", test_size=0.007).splits["fault:bearing"]
    assert not (set(s.train.groups) - {97}) & (set(s.test.groups) - {97})


def test_azure_splits_are_in_time_order_with_the_horizon_respected(ctx):
    s = X.bundle(ctx, "azure_pdm", 0).splits["failure24h:machine"]
    t = {name: np.asarray(d.info["time"]) for name, d in (("train", s.train), ("val", s.val), ("test", s.test))}
    day = np.timedelta64(24, "h")
    assert t["train"].max() + day < t["val"].min() and t["val"].max() + day < t["test"].min()


def test_weld_shared_test_images_are_test_images_of_both_splits(ctx, results):
    from plantpulse.model.weld.dataset import source_key

    s = X.bundle(ctx, "weld_surface_yolo", 0).splits["defect:weld"]
    test_sources = {source_key(f) for f in s.test.info["files"]}
    train_sources = {source_key(f) for f in s.train.info["files"]} if "files" in s.train.info else set()
    assert not test_sources & train_sources
    assert "shared test" in results["weld"].extra_tables[0]
