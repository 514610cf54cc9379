"""Baseline building blocks on small synthetic data: GBM helpers, the plain network, survival
censoring, CWRU fault-type marginals, the protocol registry."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
import torch

from plantpulse.data.core.errors import UnknownNameError
from plantpulse.model.moe.config import TaskSpec
from plantpulse.model.moe.layers.embeddings import HashingTokenizer
from plantpulse.model.moe.training import Batcher, TaskData, TaskSplits
from plantpulse.model.vibration_features import vibration_features
from plantpulse.pipelines.evaluate import gbm
from plantpulse.pipelines.evaluate.cwru import TYPE_OF, type_probs
from plantpulse.pipelines.evaluate.features import rul_features
from plantpulse.pipelines.evaluate.moe import outputs
from plantpulse.pipelines.evaluate.nets import load_plain, save_plain
from plantpulse.pipelines.evaluate.protocols import PROTOCOLS
from plantpulse.pipelines.evaluate.records import BUDGETS
from plantpulse.pipelines.evaluate.scoring import plain_net_for, train_plain
from plantpulse.pipelines.evaluate.survival import censored
from plantpulse.pipelines.train.tasks.windows import chunked

SPEC = TaskSpec(name="fault:toy", kind="classification", classes=("a", "b"))


def _toy(rng: np.random.Generator, n: int, name: str) -> TaskData:
    y = rng.integers(0, 2, n)
    x = rng.normal(size=(n, 16, 2)).astype(np.float32) + y[:, None, None] * 1.5
    return TaskData(name=name, task=SPEC, groups=np.arange(n), sensor=x, channels=("u", "v"), targets=y)


def test_class_probabilities_give_unseen_classes_zero(rng):
    x = rng.normal(size=(60, 3))
    y = (x[:, 0] > 0).astype(int) * 2  # classes 0 and 2 only
    probs = gbm.class_probabilities(x, y, x[:20], y[:20], x[:5], n_classes=3, max_iter=30, seed=0)
    assert probs.shape == (5, 3) and np.allclose(probs[:, 1], 0) and np.allclose(probs.sum(1), 1)


def test_quantile_bins_keep_order_and_missing_values(rng):
    x = np.column_stack([rng.normal(size=2000), rng.integers(0, 3, 2000).astype(float)])
    x[5, 0] = np.nan
    bins = gbm.Quantiles.fit(x)
    codes = bins.codes(x)
    assert np.isnan(codes[5, 0]) and not np.isnan(np.delete(codes[:, 0], 5)).any()
    keep = ~np.isnan(x[:, 0])
    order = np.argsort(x[keep, 0], kind="stable")
    assert (np.diff(codes[keep, 0][order]) >= 0).all()  # monotone in the value
    assert 200 < len(np.unique(codes[keep, 0])) <= gbm.MAX_BINS  # quantile bins, at most 255
    assert len(np.unique(codes[:, 1])) == 3  # few distinct values stay distinct
    same = codes[:, 1][x[:, 1] == 1]
    assert (same == same[0]).all()
    with pytest.raises(ValueError, match=r"expected \(N, 2\) features"):
        bins.codes(x[:, :1])


def test_weighted_quantile_bins_follow_the_weights(rng):
    x = rng.normal(size=(5000, 1))
    heavy = np.where(x[:, 0] > 1.0, 50.0, 1.0)  # the rare tail weighs as much as the rest
    plain, weighted = gbm.Quantiles.fit(x).edges[0], gbm.Quantiles.fit(x, heavy).edges[0]
    assert (weighted > 1.0).mean() > 0.4 > 0.2 > (plain > 1.0).mean()


def test_weighted_classifier_fits_bin_codes_and_predicts_from_raw_features(rng):
    x = rng.normal(size=(600, 5)) * 1000.0  # raw scale far from the codes' 0-254
    y = (x[:, 0] + x[:, 1] > 0).astype(int)
    y[x[:, 2] > 1500.0] = 2  # a rare class (~7 %): balanced weights matter
    fitted = gbm.fit_classifier(x[:400], y[:400], x[400:500], y[400:500], max_iter=60, seed=0)
    assert fitted.bins is not None and fitted.model.n_features_in_ == 5
    assert (fitted.predict(x[500:]) == y[500:]).mean() > 0.85
    probs = fitted.predict_proba(x[500:])
    assert np.allclose(probs.sum(1), 1) and probs[y[500:] == 2, 2].mean() > 0.5
    # a class only the validation rows hold (a split by asset can do that) stops on the others
    y_val = y[400:500].copy()
    y_val[:5] = 3
    unseen = gbm.fit_classifier(x[:400], y[:400], x[400:500], y_val, max_iter=60, seed=0)
    assert list(unseen.model.classes_) == [0, 1, 2] and 1 <= unseen.rounds <= 60


def test_plain_net_learns_through_the_training_loop_and_round_trips(rng, tmp_path: Path, seed):
    splits = TaskSplits(_toy(rng, 256, "train"), _toy(rng, 64, "val"), _toy(rng, 64, "test"))
    budget = BUDGETS["quick"].model_copy(update={"net_steps": 40, "net_epochs": 2, "batch_size": 16})
    net, wall = train_plain(splits, budget, seed, width=8)
    probs = outputs(net, splits.test)["probs"]
    assert wall > 0 and (probs.argmax(1) == splits.test.targets).mean() > 0.8
    again = load_plain(save_plain(net, tmp_path / "net.safetensors"))
    assert np.allclose(outputs(again, splits.test)["probs"], probs, atol=1e-6)


def test_survival_durations_are_censored_at_the_period_end():
    t0 = np.datetime64("2015-02-27T00")
    data = TaskData(name="x", task=None, groups=np.arange(3),
                    info={"time": t0 + np.array([0, 24, 40]) * np.timedelta64(1, "h"),
                          "ttf_hours": np.array([10.0, 30.0, 100.0]), "failure_observed": np.array([True, True, False])})
    d, e = censored(data, t0 + np.timedelta64(48, "h"))
    assert d.tolist() == [10.0, 24.0, 8.0] and e.tolist() == [True, False, False]


def test_fault_type_probabilities_sum_the_sizes():
    probs = np.eye(10)[[0, 1, 5, 9]]
    assert type_probs(probs).argmax(1).tolist() == [0, 1, 2, 3] and TYPE_OF.tolist() == [0, 1, 1, 1, 2, 2, 2, 3, 3, 3]


def test_feature_shapes(rng):
    windows = rng.normal(size=(5, 1024, 2)).astype(np.float32)
    assert chunked(windows, vibration_features, chunk=2).shape[0] == 5
    assert rul_features(rng.normal(size=(4, 30, 24))).shape == (4, 96)


def test_unknown_protocol_lists_the_known_ones():
    with pytest.raises(UnknownNameError, match="Unknown evaluation protocol 'fd005'. Available: ai4i2020, azure_pdm, cmapss"):
        PROTOCOLS.get("fd005")


def test_plain_net_size_is_close_to_the_student(rng):
    net = plain_net_for(TaskSplits(_toy(rng, 8, "a"), _toy(rng, 8, "b")))
    assert 1_000 < net.n_params() < 60_000
    logits = net(Batcher(HashingTokenizer(64, 8), 16).inputs(_toy(rng, 4, "c"), np.arange(4))).tasks["fault:toy"].logits
    assert logits.shape == (4, 2) and torch.isfinite(logits).all()


def test_subset_rows_keeps_per_row_info_aligned():
    from plantpulse.pipelines.evaluate.moe import subset_rows

    spec = TaskSpec(name="defect:weld", kind="classification", classes=("a", "b"))
    data = TaskData("weld", spec, groups=np.arange(10), images=np.zeros((10, 3, 4, 4), np.float32),
                    targets=np.arange(10) % 2, info={"files": [f"f{i}" for i in range(10)], "source": "x"})
    sub = subset_rows(data, 4, seed=1)
    assert sub.info["files"] == [f"f{g}" for g in sub.groups] and sub.info["source"] == "x"


def test_reduced_budget_runs_every_seed_only_where_the_protocol_asks_for_it():
    seeds = (0, 1, 2)
    assert BUDGETS["reduced"].seeds_for("cmapss", seeds) == seeds
    assert BUDGETS["reduced"].seeds_for("cwru", seeds) == (0,)
    assert all(BUDGETS["full"].seeds_for(name, seeds) == seeds for name in PROTOCOLS)


def _ctx(budget: str, tmp_path: Path):
    from plantpulse.pipelines.evaluate.records import EvalContext

    return EvalContext(tmp_path, (0, 1, 2), BUDGETS[budget], tmp_path / "w", tmp_path / "c", tmp_path / "i")


def test_per_task_budget_trains_each_task_alone_with_its_recipe(tmp_path: Path):
    from plantpulse.pipelines.evaluate import experiments as X
    from plantpulse.pipelines.evaluate.moe import train_commands

    ctx = _ctx("per-task", tmp_path)
    spec = X.task_spec(ctx, "cmapss", 1, name="cmapss-FD002", subsets=["FD002"])
    assert (spec.name, spec.datasets, spec.tasks) == ("cmapss-FD002-s1", ("cmapss",), ("rul:turbofan",))
    assert spec.pretrain and not spec.distill and spec.epochs == {"pretrain": 2, "finetune": 12}
    assert spec.bundle_options == {"cmapss": {"window": 50, "subsets": ["FD002"], "min_history": 20}}
    commands = train_commands(ctx, spec)
    assert [c.split(" train ")[1].split()[:2] for c in commands] == [["--stage", "pretrain"], ["--stage", "finetune"]]
    assert all("--pretrain-epochs 2 --finetune-epochs 12 --distill-epochs 0" in c for c in commands)
    assert all("--dataset-option=cmapss.window=50" in c and "--tasks rul:turbofan" in c for c in commands)
    assert "--steps" not in commands[0]  # epochs are passes over the task's own training data
    ai4i = X.task_spec(ctx, "ai4i2020", 0)
    assert not ai4i.pretrain and ai4i.epochs == {"finetune": 60} and ai4i.bundle_options == {"ai4i2020": {"derived": True}}
    assert ai4i.training == {"lr": 1e-3, "batch_size": 32, "patience": 8, "class_weight_power": 1.0}
    load = X.cwru_load_spec(ctx, 2, 0)
    assert load.bundle_options == {"cwru": {"structured": True, "protocol": "load", "test_loads": [0, 1, 3]}}
    assert load.overrides == {"feature_path": 128} and not load.distill
    assert X.azure_spec(ctx, "sensor", 0).tasks == ("failure24h:machine",)
    assert X.task_spec(ctx, "azure_pdm", 0) == X.azure_spec(ctx, "sensor+text", 0)  # one Azure model, not two
    assert X.ablation_names(ctx) == ()


def test_joint_budgets_keep_the_multi_task_model_and_its_commands(tmp_path: Path):
    from plantpulse.pipelines.evaluate import experiments as X
    from plantpulse.pipelines.evaluate.moe import train_commands

    ctx = _ctx("reduced", tmp_path)
    assert X.task_spec(ctx, "cwru", 0) == X.main_spec(0)
    load = X.cwru_load_spec(ctx, 0, 0)
    assert load.distill and load.pretrain and load.epochs == {} and load.tasks == ("fault:bearing",)
    assert X.azure_spec(ctx, "text", 0).tasks == () and X.ablation_names(ctx) == tuple(X.ABLATIONS)
    (command,) = train_commands(ctx, X.main_spec(0))
    assert "--pretrain-epochs 1 --finetune-epochs 5 --distill-epochs 2 --steps 40" in command


def test_a_recipe_sets_training_options_and_model_overrides_in_spec_request_and_command(tmp_path: Path):
    from plantpulse.pipelines.evaluate import experiments as X
    from plantpulse.pipelines.evaluate.moe import _request, train_commands
    from plantpulse.pipelines.evaluate.report import budget_line

    ctx = _ctx("per-task", tmp_path)
    recipe = {"finetune_epochs": 30, "lr": 0.001, "batch_size": 32, "patience": 6, "class_weight_power": 1.0,
              "image_flips": True, "word_dropout": 0.25, "overrides": {"vocab_size": 4096}}
    ctx = replace(ctx, budget=ctx.budget.model_copy(update={"recipes": {**ctx.budget.recipes, "maintnet": recipe}}))
    spec = X.task_spec(ctx, "maintnet", 0)
    assert spec.training == {"lr": 0.001, "batch_size": 32, "patience": 6, "class_weight_power": 1.0,
                             "image_flips": True, "word_dropout": 0.25}
    request = _request(ctx, spec, "finetune")
    assert (request.lr, request.batch_size, request.patience, request.class_weight_power) == (0.001, 32, 6, 1.0)
    assert request.model_overrides["vocab_size"] == 4096 and request.options("finetune").class_weight_power == 1.0
    assert request.options("finetune").image_flips and request.options("finetune").word_dropout == 0.25
    (command,) = train_commands(ctx, spec)
    for flag in ("--lr 0.001", "--batch-size 32", "--patience 6", "--class-weight-power 1.0", "--image-flips",
                 "--word-dropout 0.25", "--model-option vocab_size=4096"):
        assert flag in command
    plain = X.task_spec(ctx, "cwru", 0)  # a recipe without them keeps the budget's values and command
    assert _request(ctx, plain, "finetune").class_weight_power == 0.5 and "--class-weight-power" not in \
        train_commands(ctx, plain)[0]
    assert not _request(ctx, plain, "finetune").image_flips and "--image-flips" not in train_commands(ctx, plain)[0]
    line = budget_line(ctx.budget.model_dump(mode="json"))
    assert "maintnet 0 pre-training + 30 fine-tuning epochs with lr 0.001, batch 32, patience 6, " \
           "class-weight power 1.0, image flips, word dropout 0.25, vocab_size=4096" in line


def test_a_recipe_can_average_the_weights_crop_images_weigh_squared_rul_errors_and_smooth_labels(tmp_path: Path):
    from plantpulse.pipelines.evaluate import experiments as X
    from plantpulse.pipelines.evaluate.moe import _request, train_commands
    from plantpulse.pipelines.evaluate.report import budget_line

    ctx = _ctx("per-task", tmp_path)
    recipe = {**ctx.budget.recipes["cmapss"], "average_epochs": 1.0, "image_crop_min": 0.7, "rul_mse_weight": 2.0,
              "label_smoothing": 0.1, "weight_decay": 0.05}
    ctx = replace(ctx, budget=ctx.budget.model_copy(update={"recipes": {**ctx.budget.recipes, "cmapss": recipe}}))
    spec = X.task_spec(ctx, "cmapss", 0, name="cmapss-FD002", subsets=["FD002"])  # a subset with no case of its own
    assert spec.training == {"average_epochs": 1.0, "image_crop_min": 0.7, "rul_mse_weight": 2.0,
                             "label_smoothing": 0.1, "weight_decay": 0.05}
    options = _request(ctx, spec, "finetune").options("finetune")
    assert (options.average_epochs, options.image_crop_min, options.rul_mse_weight) == (1.0, 0.7, 2.0)
    assert (options.label_smoothing, options.weight_decay) == (0.1, 0.05)
    command = train_commands(ctx, spec)[-1]
    assert "--average-epochs 1.0" in command and "--image-crop-min 0.7" in command
    assert "--rul-mse-weight 2.0" in command and "--label-smoothing 0.1" in command and "--weight-decay 0.05" in command
    plain = " ".join(train_commands(ctx, X.task_spec(ctx, "cwru", 0)))
    assert "--average-epochs" not in plain and "--image-crop-min" not in plain and "--rul-mse-weight" not in plain
    assert "--label-smoothing" not in plain and "--weight-decay" not in plain
    line = budget_line(ctx.budget.model_dump(mode="json"))
    assert "weights averaged over epochs 1.0" in line and "random crops down to 0.7" in line
    assert "RUL squared-error weight 2.0" in line and "label smoothing 0.1" in line and "weight decay 0.05" in line


def test_report_says_the_per_task_budget_trains_one_model_per_task():
    from plantpulse.pipelines.evaluate.report import budget_line

    line = budget_line(BUDGETS["per-task"].model_dump(mode="json"))
    assert "one MoE per task" in line and ("cmapss 2 pre-training + 12 fine-tuning epochs with window=50 "
                                           "(cmapss-FD001: mean of 2 teachers on one split, RUL squared-error weight 1.0, "
                                           "subsets=['FD001', 'FD003'], "
                                           "min_history=20) (cmapss-FD002: mean of 2 teachers on one split, d_model=64, min_history=20) "
                                           "(cmapss-FD003: mean of 2 teachers on one split, lr 0.001, RUL squared-error weight 1.0, "
                                           "subsets=['FD003', 'FD001'], "
                                           "min_history=20) "
                                           "(cmapss-FD004: mean of 2 teachers on one split, min_history=20)") in line
    assert "reduced from" not in line and "Only cmapss, cwru, weld, ai4i2020, maintnet, azure_pdm run every seed" in line


def test_a_recipe_case_sets_training_options_for_one_subset_only(tmp_path: Path):
    from plantpulse.pipelines.evaluate import experiments as X
    from plantpulse.pipelines.evaluate.moe import train_commands

    ctx = _ctx("per-task", tmp_path)
    weights = {}
    for subset in ("FD001", "FD002", "FD003", "FD004"):
        spec = X.task_spec(ctx, "cmapss", 0, name=f"cmapss-{subset}", subsets=[subset])
        weights[subset] = spec.training.get("rul_mse_weight")
        assert ("--rul-mse-weight 1.0" in train_commands(ctx, spec)[-1]) == (weights[subset] == 1.0)
    assert weights == {"FD001": 1.0, "FD002": None, "FD003": 1.0, "FD004": None}


def test_a_recipe_case_can_pool_subsets_and_is_scored_on_its_own_engines(tmp_path: Path, monkeypatch):
    """A case's task-builder options (here: FD001 trained on FD001 and FD003 engines) reach the
    training command, and scoring picks that subset's rows out of the pooled splits."""
    from plantpulse.pipelines.evaluate import cmapss as C
    from plantpulse.pipelines.evaluate import experiments as X
    from plantpulse.pipelines.evaluate.moe import train_commands
    from plantpulse.pipelines.train.tasks.cmapss import RUL_TASK

    ctx = _ctx("per-task", tmp_path)
    recipe = {**ctx.budget.recipes["cmapss"],
              "cases": {"cmapss-FD001": {"rul_mse_weight": 1.0, "options": {"subsets": ["FD001", "FD003"]}}}}
    ctx = replace(ctx, budget=ctx.budget.model_copy(update={"recipes": {**ctx.budget.recipes, "cmapss": recipe}}))
    pooled = X.task_spec(ctx, "cmapss", 0, name="cmapss-FD001", subsets=["FD001"])
    alone = X.task_spec(ctx, "cmapss", 0, name="cmapss-FD002", subsets=["FD002"])
    assert pooled.bundle_options == {"cmapss": {"window": 50, "subsets": ["FD001", "FD003"]}}
    assert pooled.training == {"rul_mse_weight": 1.0} and alone.training == {}
    assert "cmapss.subsets=[\"FD001\",\"FD003\"]" in train_commands(ctx, pooled)[-1]
    assert C.trained_subsets(pooled, "FD001") == ["FD001", "FD003"] and C.trained_subsets(alone, "FD002") == ["FD002"]

    groups = np.array([1, 2, 1003, 1004, 3])  # FD001 engines 1-3 and FD003 engines 3-4, as pooled
    part = TaskData(name="t", task=RUL_TASK, groups=groups, targets=np.arange(5.0))
    monkeypatch.setattr(X, "own_splits", lambda *a, **k: TaskSplits(part, part, part))
    own, mine = C.case_splits(ctx, pooled, "FD001", 0)
    assert own.test is part and mine.test.groups.tolist() == [1, 2, 3] and mine.test.targets.tolist() == [0, 1, 4]
    own, mine = C.case_splits(ctx, alone, "FD002", 0)
    assert mine is own


def test_a_recipe_case_can_set_its_own_model_options(tmp_path: Path):
    """A case's model overrides (here: FD002 at width 64) are added to the recipe's and reach
    that case's training command only."""
    from plantpulse.pipelines.evaluate import experiments as X
    from plantpulse.pipelines.evaluate.moe import train_commands

    ctx = _ctx("per-task", tmp_path)
    recipe = {**ctx.budget.recipes["cmapss"], "overrides": {"patch_len": 8},
              "cases": {"cmapss-FD002": {"overrides": {"d_model": 64}}}}
    ctx = replace(ctx, budget=ctx.budget.model_copy(update={"recipes": {**ctx.budget.recipes, "cmapss": recipe}}))
    wide = X.task_spec(ctx, "cmapss", 0, name="cmapss-FD002", subsets=["FD002"])
    other = X.task_spec(ctx, "cmapss", 0, name="cmapss-FD001", subsets=["FD001"])
    assert wide.overrides == {"patch_len": 8, "d_model": 64} and other.overrides == {"patch_len": 8}
    assert "--model-option d_model=64" in train_commands(ctx, wide)[-1]
    assert "d_model" not in train_commands(ctx, other)[-1]


def test_a_recipe_case_with_members_trains_more_teachers_on_the_same_split(tmp_path: Path):
    """``members: 2`` adds one teacher of the same recipe: another training seed, the same engine
    split (the split's seed passed as the task builder's option, which the training job lets win),
    its own checkpoint name; the other cases have none."""
    from plantpulse.pipelines.evaluate import experiments as X
    from plantpulse.pipelines.evaluate.moe import checkpoint_paths, train_commands

    ctx = _ctx("per-task", tmp_path)
    cases = {"cmapss-FD001": {"members": 2, "options": {"subsets": ["FD001", "FD003"]}}}
    recipe = {**ctx.budget.recipes["cmapss"], "cases": cases}
    ctx = replace(ctx, budget=ctx.budget.model_copy(update={"recipes": {**ctx.budget.recipes, "cmapss": recipe}}))
    spec = X.task_spec(ctx, "cmapss", 2, name="cmapss-FD001", subsets=["FD001"])
    other = X.task_spec(ctx, "cmapss", 2, name="cmapss-FD002", subsets=["FD002"])
    assert spec.members == 2 and X.member_specs(other) == []
    (member,) = X.member_specs(spec)
    assert member.name == "cmapss-FD001-s2-m1" and member.seed == 102 and member.members == 1
    assert member.bundle_options == {"cmapss": {**spec.bundle_options["cmapss"], "seed": 2}}
    assert "seed" not in spec.bundle_options["cmapss"]
    assert checkpoint_paths(ctx, member)["teacher"].name == "cmapss-FD001-s2-m1-teacher.safetensors"
    command = train_commands(ctx, member)[-1]
    assert "--seed 102" in command and "cmapss.seed=2" in command
    assert train_commands(ctx, spec)[-1].count("--seed 2 ") == 1 and "cmapss.seed" not in train_commands(ctx, spec)[-1]


def test_members_on_a_dataset_whose_protocol_cannot_score_them_are_refused(tmp_path: Path):
    from plantpulse.pipelines.evaluate import experiments as X

    ctx = _ctx("per-task", tmp_path)
    recipe = {**ctx.budget.recipes["ai4i2020"], "cases": {"ai4i2020": {"members": 2}}}
    ctx = replace(ctx, budget=ctx.budget.model_copy(update={"recipes": {**ctx.budget.recipes, "ai4i2020": recipe}}))
    with pytest.raises(ValueError, match="members.*cmapss"):
        X.task_spec(ctx, "ai4i2020", 0)


def test_a_member_is_scored_on_the_bundle_of_its_split(tmp_path: Path, monkeypatch):
    """The evaluation's bundles of a member are those of the split's seed, not of its training seed."""
    from plantpulse.pipelines.evaluate import experiments as X
    from plantpulse.pipelines.train import tasks

    built = []
    monkeypatch.setattr(tasks, "build_bundle", lambda name, root, **options: built.append(options) or options)
    ctx = _ctx("per-task", tmp_path)
    X.bundle(ctx, "cmapss", 102, seed=2, window=50)
    X.bundle(ctx, "cmapss", 2, window=50)
    assert [b["seed"] for b in built] == [2]  # the second call is the first's cached bundle


def test_an_ensemble_is_calibrated_on_the_validation_cuts_and_sums_its_walls(tmp_path: Path, monkeypatch):
    """The members' mean is scored on test with a multiplier fitted on the case's validation cuts
    (not a member's stored one), and the row's training wall is the members' sum."""
    from plantpulse.model.moe.calibration import conformal_scale
    from plantpulse.pipelines.evaluate import cmapss as C
    from plantpulse.pipelines.evaluate import experiments as X
    from plantpulse.pipelines.train.tasks.cmapss import RUL_TASK

    ctx = _ctx("per-task", tmp_path)
    cases = {"cmapss-FD001": {"members": 2}}
    recipe = {**ctx.budget.recipes["cmapss"], "cases": cases}
    ctx = replace(ctx, budget=ctx.budget.model_copy(update={"recipes": {**ctx.budget.recipes, "cmapss": recipe}}))
    spec = X.task_spec(ctx, "cmapss", 0, name="cmapss-FD001", subsets=["FD001"])
    rng = np.random.default_rng(0)
    val = TaskData(name="v", task=RUL_TASK, groups=np.arange(40), targets=rng.uniform(0, 125, 40))
    test = TaskData(name="t", task=RUL_TASK, groups=np.arange(5), targets=rng.uniform(0, 125, 5))
    shift = {"cmapss-FD001-s0": 4.0, "cmapss-FD001-s0-m1": -2.0}
    stored = {"rul_intervals": {RUL_TASK.name: {"scale": 0.01, "level": 0.8, "n": 40}}}
    monkeypatch.setattr(X, "get", lambda _ctx, s: SimpleNamespace(teacher=s.name, extras={"teacher": stored},
                                                                  wall_s=100.0))
    monkeypatch.setattr(C, "outputs", lambda name, data: {"mean": data.targets + shift[name] + 3 * np.sin(data.groups),
                                                          "std": np.full(len(data), 2.0), "target": data.targets})
    outs, wall = C.teacher_outputs(ctx, spec, TaskSplits(val, val, test), TaskSplits(test, val, test))
    assert wall == 200.0
    assert np.allclose(outs["mean"], test.targets + 1.0 + 3 * np.sin(test.groups))
    mixed = C.mixture([C.outputs(n, val) for n in shift])
    scale = conformal_scale(mixed["mean"], mixed["std"], val.targets, RUL_TASK.rul_cap)
    assert scale is not None and scale > 0.5
    point = np.clip(outs["mean"], 0, 125)
    assert np.allclose(outs["upper"] - outs["lower"], np.minimum(point + scale * outs["std"], 125)
                       - np.maximum(point - scale * outs["std"], 0))


def test_members_are_scored_as_one_gaussian_mixture():
    """The ensemble's mean is the members' mean; its std holds their variances and their disagreement."""
    from plantpulse.pipelines.evaluate.cmapss import mixture

    a = {"mean": np.array([10.0, 50.0]), "std": np.array([3.0, 4.0]), "target": np.array([12.0, 40.0])}
    b = {"mean": np.array([14.0, 50.0]), "std": np.array([3.0, 2.0]), "target": np.array([12.0, 40.0])}
    out = mixture([a, b])
    assert out["mean"].tolist() == [12.0, 50.0] and out["target"].tolist() == [12.0, 40.0]
    assert np.allclose(out["std"], [np.sqrt(9.0 + 4.0), np.sqrt(10.0)])
    assert np.allclose(mixture([a])["std"], a["std"])


def test_gradient_boosting_is_offered_the_data_of_the_case(tmp_path: Path):
    """Whatever a case adds to a subset's full windows (pooled engines, short histories) is named
    in the baseline row fitted on the same data, with the same task-builder options."""
    from plantpulse.pipelines.evaluate import cmapss as C
    from plantpulse.pipelines.evaluate import experiments as X

    ctx = _ctx("per-task", tmp_path)
    cases = {"cmapss-FD004": {"options": {"subsets": ["FD004", "FD002"], "min_history": 20}},
             "cmapss-FD002": {"options": {"min_history": 20}}}
    recipe = {**ctx.budget.recipes["cmapss"], "cases": cases}
    ctx = replace(ctx, budget=ctx.budget.model_copy(update={"recipes": {**ctx.budget.recipes, "cmapss": recipe}}))
    spec = {n: X.task_spec(ctx, "cmapss", 0, name=f"cmapss-{n}", subsets=[n]) for n in ("FD001", "FD002", "FD004")}
    assert C.case_data(spec["FD004"], "FD004") == (
        "FD004+FD002 engines, histories from 20 cycles", {"subsets": ["FD004", "FD002"], "min_history": 20})
    assert C.case_data(spec["FD002"], "FD002") == ("histories from 20 cycles", {"subsets": ["FD002"], "min_history": 20})
    assert C.case_data(spec["FD001"], "FD001")[0] == ""


def test_short_histories_keep_the_full_window_baselines(tmp_path: Path, monkeypatch):
    """A case that adds short histories still has gradient boosting fitted on the same engines' full
    windows (30-cycle when pooled, and the MoE's longer windows), scored on the case's own subset:
    changing the MoE's data must not drop a baseline an earlier run had."""
    from plantpulse.pipelines.evaluate import cmapss as C
    from plantpulse.pipelines.evaluate import experiments as X
    from plantpulse.pipelines.train.tasks.cmapss import RUL_TASK

    ctx = _ctx("per-task", tmp_path)
    cases = {"cmapss-FD001": {"options": {"subsets": ["FD001", "FD003"], "min_history": 20}},
             "cmapss-FD002": {"options": {"min_history": 20}}}
    recipe = {**ctx.budget.recipes["cmapss"], "options": {"window": 50}, "cases": cases}
    ctx = replace(ctx, budget=ctx.budget.model_copy(update={"recipes": {**ctx.budget.recipes, "cmapss": recipe}}))
    asked = []

    def bundle(_ctx, name, seed, **options):
        asked.append(options)
        groups = np.array([1, 2, 1001, 1002])  # FD001 engines 1-2, the second subset's 1-2
        data = TaskData(name="x", task=RUL_TASK, groups=groups, targets=np.array([5.0, 6.0, 7.0, 8.0]))
        return SimpleNamespace(splits={RUL_TASK.name: TaskSplits(data, data, data)})

    monkeypatch.setattr(X, "bundle", bundle)
    spec = {n: X.task_spec(ctx, "cmapss", 0, name=f"cmapss-{n}", subsets=[n]) for n in ("FD001", "FD002", "FD003")}
    pooled = C._full_windows_only(ctx, spec["FD001"], "FD001", 0)
    assert [label for label, _ in pooled] == ["Gradient boosting (window features, FD001+FD003 engines)",
                                             "Gradient boosting (50-cycle window features, FD001+FD003 engines)"]
    assert asked == [{"subsets": ["FD001", "FD003"]}, {"subsets": ["FD001", "FD003"], "window": 50}]
    assert all(len(d.train) == 4 and d.test.groups.tolist() == [1, 2] for _, d in pooled)
    alone = C._full_windows_only(ctx, spec["FD002"], "FD002", 0)
    assert [label for label, _ in alone] == ["Gradient boosting (50-cycle window features)"]
    assert C._full_windows_only(ctx, spec["FD003"], "FD003", 0) == []


def test_the_dirty_check_watches_the_code_from_the_repository_top():
    """git runs in the package's folder; relative paths there matched nothing, so a run on changed
    code was reported as clean."""
    from plantpulse.pipelines.evaluate.protocols import WATCHED, _git

    listed = _git("ls-files", "--full-name", "--", *WATCHED)
    if listed == "unknown":
        pytest.skip("not a git checkout")
    files = listed.splitlines()
    assert any(f.startswith("pipelines/evaluate/") for f in files) and any(f.startswith("model/moe/") for f in files)
    assert not any(f.startswith("model/checkpoints/") for f in files)


def test_vibration_feature_names_follow_the_columns():
    from plantpulse.model.vibration_features import vibration_feature_names

    rng = np.random.default_rng(0)
    windows = rng.normal(size=(4, 256, 2)).astype(np.float32)
    windows[:, :, 1] *= 10  # the second channel 10x louder: its log-RMS column is larger by log(10)
    table = vibration_features(windows, spectrum_bands=8, envelope_bands=4, envelope_bins=32)
    names = vibration_feature_names(("de", "fe"), spectrum_bands=8, envelope_bands=4)
    assert table.shape == (4, len(names)) and len(set(names)) == len(names)
    log_rms = table[:, names.index("fe:log_rms")] - table[:, names.index("de:log_rms")]
    np.testing.assert_allclose(log_rms, np.log(10), atol=0.2)
    # the relative band energies do not change when the whole window is scaled
    scaled = vibration_features(windows * 3, spectrum_bands=8, envelope_bands=4, envelope_bins=32)
    rel = [i for i, n in enumerate(names) if ":band_rel" in n]
    np.testing.assert_allclose(scaled[:, rel], table[:, rel], atol=1e-4)


def test_a_recipe_image_size_reaches_the_bundle_the_moe_is_scored_on(tmp_path: Path, monkeypatch):
    from plantpulse.pipelines.evaluate import experiments as X

    ctx = _ctx("per-task", tmp_path)
    recipe = {**ctx.budget.recipes["weld_surface_yolo"], "overrides": {"image_size": 128, "image_patch": 16}}
    ctx = replace(ctx, budget=ctx.budget.model_copy(update={"recipes": {**ctx.budget.recipes,
                                                                        "weld_surface_yolo": recipe}}))
    built: list[tuple[str, int]] = []
    monkeypatch.setattr("plantpulse.pipelines.train.tasks.build_bundle",
                        lambda name, root, **options: built.append((name, options["image_size"])) or name)
    spec = X.task_spec(ctx, "weld_surface_yolo", 0)
    assert X.image_size(ctx, spec) == 128
    with pytest.raises(AttributeError):  # the stand-in bundle has no splits: only the call matters
        X.own_splits(ctx, spec, "weld_surface_yolo", 0, "defect:weld")
    X.bundle(ctx, "weld_surface_yolo", 0)  # the baselines' bundle keeps the budget's size
    assert built == [("weld_surface_yolo", 128), ("weld_surface_yolo", 64)]


def test_cwru_per_case_tables_average_each_case_over_the_seeds():
    from plantpulse.pipelines.evaluate.cwru import seed_mean

    seeds = [{"MoE teacher": {(0, 1): {"accuracy": 0.9, "macro_f1": 0.8}, (1, 0): {"accuracy": 1.0, "macro_f1": 1.0}}},
             {"MoE teacher": {(0, 1): {"accuracy": 0.7, "macro_f1": 0.6}, (1, 0): {"accuracy": 0.9, "macro_f1": 0.9}}}]
    mean = seed_mean(seeds)["MoE teacher"]
    assert mean[(0, 1)] == pytest.approx({"accuracy": 0.8, "macro_f1": 0.7})
    assert mean[(1, 0)] == pytest.approx({"accuracy": 0.95, "macro_f1": 0.95})
