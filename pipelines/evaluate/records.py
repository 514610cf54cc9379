"""Typed records of an evaluation: what a protocol measured, and what it was given to run with.

A protocol returns one :class:`ProtocolResult`: its table as :class:`Row` objects (one per model,
mean and sample standard deviation over seeds per ``(case, metric)`` cell), target checks, plots
and notes. The report and the JSON are written only from these records.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

Echo = Callable[[str], None]


# 8-sample sensor patches halve the tokens of the long CWRU windows; 48 text tokens hold a week
# of Azure error/maintenance events; 64-pixel weld images keep small defects visible.
MOE_OVERRIDES: dict[str, object] = {"patch_len": 8, "max_text_len": 48, "image_size": 64}


class Budget(BaseModel):
    """How much training every experiment gets (frozen; unknown keys rejected).

    ``full`` is the reported run; ``quick`` is the CI smoke version (same code path, tiny budgets).
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str = "full"
    preset: str = "tiny"
    moe_overrides: dict[str, object] = Field(
        default_factory=lambda: dict(MOE_OVERRIDES), description="changes to the preset, for every MoE")
    moe_steps: int | None = Field(80, ge=1, description="optimiser steps per epoch, every stage "
                                  "(None: one pass over the tasks' training data)")
    pretrain_epochs: int = Field(2, ge=0)
    finetune_epochs: int = Field(6, ge=1)
    distill_epochs: int = Field(3, ge=0)
    batch_size: int = Field(32, ge=2)
    lr: float = Field(2e-3, gt=0)
    net_steps: int = Field(150, ge=1, description="plain-network steps per epoch")
    net_epochs: int = Field(8, ge=1)
    gbm_iter: int = Field(300, ge=1, description="boosting rounds (early-stopped on validation)")
    max_rows: int | None = Field(25_000, ge=1, description="cap on training rows for feature models")
    cwru_gbm_rows: int = Field(3000, ge=1, description="training windows for the CWRU feature model")
    baseline_all_seeds: bool = Field(False, description="baselines on every seed where the split does "
                                     "not depend on it (CWRU, Azure); C-MAPSS always uses every seed")
    eval_rows: int | None = Field(None, ge=1, description="cap on test rows (quick runs only)")
    val_rows: int = Field(1024, ge=1, description="MoE validation rows per task and epoch (best-weights choice)")
    patience: int = Field(3, ge=1, description="MoE early stopping: epochs without a better validation score")
    qmlp_epochs: int = Field(10, ge=1, description="epochs of the quantile-MLP RUL baseline (its default is 40)")
    device: str = Field("cpu", description="where the MoE experiments train (the baselines train on the CPU)")
    scope: Literal["joint", "per_task"] = Field(
        "joint", description="'joint': one multi-task MoE for every dataset (main-s<seed>) plus ablations; "
                             "'per_task': one MoE per task, trained on that task alone with its recipe")
    recipes: dict[str, dict[str, Any]] = Field(
        default_factory=dict, description="per dataset (per_task scope): pretrain_epochs, finetune_epochs, "
                                          "training options (lr, batch_size, patience, class_weight_power, image_flips, "
                                          "word_dropout, average_epochs, image_crop_min, rul_mse_weight, "
                                          "label_smoothing, weight_decay; 'cases': experiment "
                                          "name -> those options and 'options' (task-builder options, e.g. the "
                                          "subsets to train on) for that case alone, e.g. one C-MAPSS subset), model "
                                          "overrides and task-builder options of its MoE, over the budget's own")
    seeded_protocols: tuple[str, ...] | None = Field(
        None, description="protocols that run every seed given; the others run the first seed only "
                          "(None: every protocol runs every seed)")

    def seeds_for(self, protocol: str, seeds: tuple[int, ...]) -> tuple[int, ...]:
        """The seeds ``protocol`` runs with under this budget."""
        return seeds if self.seeded_protocols is None or protocol in self.seeded_protocols else seeds[:1]


BUDGETS: dict[str, Budget] = {
    "full": Budget(),
    # What fitted the reported run (about 1.5 h on 2 CPU cores shared with other jobs): every
    # experiment of ``full`` with half its MoE optimiser steps, 5 fine-tuning epochs instead of 6,
    # 2 distillation epochs instead of 3 and two thirds of the plain-network steps; every seed for
    # C-MAPSS (its protocol asks for at least 3), the first seed for the other protocols.
    "reduced": Budget(name="reduced", moe_steps=40, pretrain_epochs=1, finetune_epochs=5, distill_epochs=2,
                      net_steps=100, net_epochs=6, qmlp_epochs=5, seeded_protocols=("cmapss",)),
    # One MoE per task, trained on that task alone for epochs of one pass over its training data,
    # with the recipes measured in docs/benchmarks.md ("MoE single-task runs"); early stopping on
    # validation picks each teacher's epoch; no distillation. About 2.5 h of one core for C-MAPSS
    # (4 subsets x 3 seeds) and half an hour for the rest, on 2 CPU cores.
    "per-task": Budget(name="per-task", scope="per_task", moe_steps=None, pretrain_epochs=0, finetune_epochs=10,
                       distill_epochs=0, batch_size=64, net_steps=100, net_epochs=6, qmlp_epochs=5,
                       seeded_protocols=("cmapss", "cwru", "weld", "ai4i2020", "maintnet", "azure_pdm"), recipes={
                           # window summary tokens won on FD001 validation (one seed) but lost on its
                           # test over 3 seeds as an ablation, so patches only (docs/benchmarks.md).
                           # CRPS + 1 x squared error: lower validation RMSE on FD001 and FD003, higher
                           # on FD002 and FD004 over 3 seeds (benchmarks/cmapss_val_scores.py), so
                           # those two keep CRPS alone. FD001 and FD003 train on both subsets' engines
                           # pooled (the case's own subset first): lower validation RMSE of each over 3
                           # seeds (benchmarks/cmapss_subset_val.py). Every subset also trains on (and cuts
                           # validation engines at) histories from 20 cycles, as the shortest test engines
                           # are: lower RMSE on those cuts over 3 seeds (docs/benchmarks.md). FD002 is 64
                           # wide: 0.03 lower on those cuts over 3 seeds, by a rule written before the
                           # teachers finished; a tie in all but name (docs/benchmarks.md). FD003
                           # trains at lr 1e-3: 0.14 lower on its cuts from 20 cycles over 3 seeds, by
                           # such a rule (benchmarks/cmapss_subset_val.py; docs/benchmarks.md). Every
                           # subset's teacher is the mean of 2 trained on one split ("members"): FD001-FD004
                           # 0.67, 0.56, 0.26 and 0.51 lower on their cuts from 20 cycles over 3 seeds, by
                           # such a rule with a minimum gain of 0.25 (docs/benchmarks.md)
                           "cmapss": {"pretrain_epochs": 2, "finetune_epochs": 12, "options": {"window": 50},
                                      "cases": {"cmapss-FD001": {"members": 2, "rul_mse_weight": 1.0,
                                                                 "options": {"subsets": ["FD001", "FD003"],
                                                                             "min_history": 20}},
                                                "cmapss-FD002": {"members": 2, "options": {"min_history": 20},
                                                                 "overrides": {"d_model": 64}},
                                                "cmapss-FD003": {"members": 2, "lr": 1e-3, "rul_mse_weight": 1.0,
                                                                 "options": {"subsets": ["FD003", "FD001"],
                                                                             "min_history": 20}},
                                                "cmapss-FD004": {"members": 2, "options": {"min_history": 20}}}},
                           # the baseline's spectrum/envelope features as structured tokens and path:
                           # chosen for cross-load by nested leave-one-load-out selection
                           # (benchmarks/cwru_cross_load_select.py; docs/benchmarks.md)
                           "cwru": {"finetune_epochs": 10, "options": {"structured": True},
                                    "overrides": {"feature_path": 128}},
                           # chosen on validation by benchmarks/recipe_search.py (docs/benchmarks.md)
                           # the structured-feature path won on the rolling validation folds
                           "azure_pdm": {"pretrain_epochs": 2, "finetune_epochs": 25, "patience": 6,
                                         "batch_size": 32, "lr": 1e-3, "class_weight_power": 1.0,
                                         "options": {"structured": True}, "overrides": {"feature_path": 128}},
                           "ai4i2020": {"finetune_epochs": 60, "patience": 8, "batch_size": 32, "lr": 1e-3,
                                        "class_weight_power": 1.0, "options": {"derived": True}},
                           # word dropout 0.25 won on validation on every seed (maintnet-word-dropout-*);
                           # label smoothing 0.2 had the best mean on held-out validation groups over 6
                           # seeds (maintnet-holdout-ls0*; a choice by the rule, not a proven gain)
                           "maintnet": {"finetune_epochs": 30, "patience": 6, "batch_size": 32, "lr": 1e-3,
                                        "word_dropout": 0.25, "label_smoothing": 0.2,
                                        "overrides": {"vocab_size": 4096, "d_model": 64, "text_subword_buckets": 4096}},
                           # random image mirroring with twice the epochs won on validation (weld-flips-long);
                           # the baseline's image features as structured tokens and path won (weld-structured);
                           # the split is named (the builder's default too) so that checkpoints trained
                           # on the source-photo split are never reused for the clip split; chosen again
                           # on the clip split: 128 px images in 16-pixel patches (weld-clip*.txt)
                           "weld_surface_yolo": {"finetune_epochs": 80, "patience": 16, "batch_size": 32, "lr": 1e-3,
                                                 "image_flips": True, "options": {"structured": True, "split": "clip"},
                                                 "overrides": {"d_model": 64, "feature_path": 128, "image_size": 128,
                                                               "image_patch": 16}},
                       }),
    # The ``default`` preset (256 wide, 6 layers, 24 experts, 8 per modality group, top-2) on a GPU:
    # epochs are passes over every task's training data. Not used for the shipped checkpoints or CI.
    "gpu": Budget(name="gpu", preset="default", moe_steps=None, pretrain_epochs=2, finetune_epochs=20,
                  distill_epochs=3, batch_size=128, lr=1e-3, device="cuda"),
    "quick": Budget(name="quick", moe_steps=2, pretrain_epochs=1, finetune_epochs=1, distill_epochs=1,
                    batch_size=8, net_steps=3, net_epochs=1, gbm_iter=10, max_rows=600, eval_rows=64,
                    qmlp_epochs=2),
}


@dataclass(frozen=True)
class EvalContext:
    """What every protocol runs with. ``from_checkpoint``: load the MoE and plain-network
    checkpoints from ``checkpoint_dir`` instead of training them."""

    datasets_dir: Path
    seeds: tuple[int, ...]
    budget: Budget
    work_dir: Path
    checkpoint_dir: Path
    image_dir: Path
    from_checkpoint: bool = False
    ablations: bool = True
    echo: Echo = print
    cache: dict[str, object] = field(default_factory=dict, compare=False, repr=False)

    @property
    def quick(self) -> bool:
        return self.budget.name == "quick"


RETRAIN_HINT = "Run `plantpulse evaluate` without --from-checkpoint to train it again."


def trained_on_other_data(path: Path, stored: str, expected: str) -> str:
    """Why the checkpoint at ``path`` (trained on data fingerprinted ``stored``) must not be scored
    on the data this code builds for it (fingerprinted ``expected``): MoE and plain networks alike."""
    return (f"{path} was trained on data with fingerprint {stored[:12]}, but this code builds training data "
            f"with fingerprint {expected[:12]} for it (a task builder, its options or the dataset changed "
            f"since), so its test rows may have been training rows.")


@dataclass(frozen=True)
class Row:
    """One model's line in a protocol's table. ``cells``: (case, metric) -> per-seed values."""

    model: str
    family: str  # moe | ablation | baseline | published
    cells: dict[tuple[str, str], tuple[float, ...]]
    seeds: tuple[int, ...] = ()
    wall_s: float = 0.0
    note: str = ""

    def mean_sd(self, case: str, metric: str) -> tuple[float, float] | None:
        values = [v for v in self.cells.get((case, metric), ()) if v is not None and math.isfinite(v)]
        if not values:
            return None
        mean = sum(values) / len(values)
        if len(values) == 1:
            return mean, math.nan
        var = sum((v - mean) ** 2 for v in values) / (len(values) - 1)
        return mean, math.sqrt(var)


@dataclass(frozen=True)
class TargetCheck:
    """A product target and whether the measured figure meets it."""

    name: str
    target: str
    value: str
    met: bool
    why: str = ""


@dataclass(frozen=True)
class ProtocolResult:
    """Everything one protocol reports. ``columns``: the (case, metric) cells of its table."""

    name: str
    title: str
    protocol: str
    columns: tuple[tuple[str, str], ...]
    rows: tuple[Row, ...]
    targets: tuple[TargetCheck, ...] = ()
    plots: tuple[tuple[str, Path], ...] = ()
    notes: tuple[str, ...] = ()
    extra_tables: tuple[str, ...] = ()
    wall_s: float = 0.0
    details: dict[str, object] = field(default_factory=dict)


def at_least_targets(rows: Iterable[Row], targets: Sequence[tuple[tuple[str, str], str, float]]
                     ) -> tuple[TargetCheck, ...]:
    """The MoE teacher's (and a student's) mean over seeds of each ``(case, metric)`` against its lower
    bound; ``targets`` holds ``((case, metric), label, bound)``."""
    out = []
    for row in rows:
        if row.model in ("MoE teacher", "MoE student"):
            for (case, metric), label, bound in targets:
                value = row.mean_sd(case, metric)
                if value:
                    out.append(TargetCheck(f"{row.model} {label}", f"≥ {bound:.2f}", f"{value[0]:.3f}",
                                           value[0] >= bound))
    return tuple(out)


class RowBuilder:
    """Collects one model's per-seed figures, then freezes them into a :class:`Row`."""

    def __init__(self, model: str, family: str, note: str = "") -> None:
        self.model, self.family, self.note = model, family, note
        self.cells: dict[tuple[str, str], list[float]] = {}
        self.seeds: list[int] = []
        self.wall_s = 0.0

    def add(self, case: str, metrics: dict[str, float], seed: int | None = None, wall_s: float = 0.0) -> None:
        for metric, value in metrics.items():
            self.cells.setdefault((case, metric), []).append(float(value))
        if seed is not None and seed not in self.seeds:
            self.seeds.append(seed)
        self.wall_s += wall_s

    def row(self) -> Row:
        return Row(self.model, self.family, {k: tuple(v) for k, v in self.cells.items()},
                   tuple(self.seeds), round(self.wall_s, 1), self.note)
