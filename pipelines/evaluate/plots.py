"""PNG figures of the evaluation (matplotlib, Agg backend), written into ``ctx.image_dir``.

Each function returns ``((caption, path), ...)`` for the report.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np

from plantpulse.pipelines.evaluate.records import EvalContext

Plot = tuple[str, Path]


def _save(fig: plt.Figure, ctx: EvalContext, name: str) -> Path:
    ctx.image_dir.mkdir(parents=True, exist_ok=True)
    path = ctx.image_dir / name
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    plt.close(fig)
    return path


def rul_plots(ctx: EvalContext, outs: dict[str, dict], groups: np.ndarray, subsets: Sequence[str]) -> tuple[Plot, ...]:
    """Predicted vs true RUL per test engine (sorted by true RUL) with the 80 % interval, one panel
    per subset and one figure per model; plus the survival figure."""
    plots = []
    for kind, o in outs.items():
        fig, axes = plt.subplots(2, 2, figsize=(11, 7))
        for index, (ax, subset) in enumerate(zip(axes.ravel(), subsets, strict=True)):
            sel = np.flatnonzero(groups // 1000 == index)
            true = np.clip(o["target"][sel], 0, 125)
            order = np.argsort(true, kind="stable")
            x = np.arange(len(sel))
            ax.fill_between(x, o["lower"][sel][order], np.minimum(o["upper"][sel][order], 125),
                            alpha=0.3, label="80 % interval")
            ax.plot(x, o["mean"][sel][order].clip(0, 125), ".", ms=3, label="predicted")
            ax.plot(x, true[order], "k-", lw=1, label="true (capped at 125)")
            ax.set_title(f"{subset}: {len(sel)} test engines")
            ax.set_xlabel("test engine (sorted by true RUL)")
            ax.set_ylabel("RUL (cycles)")
        axes[0, 0].legend(fontsize=8)
        fig.suptitle(f"C-MAPSS, MoE {kind} (seed {ctx.seeds[0]}): last test window per engine")
        plots.append((f"C-MAPSS predicted vs true RUL per test engine, MoE {kind}",
                      _save(fig, ctx, f"cmapss_rul_{kind}.png")))
    plots.append(rul_survival(ctx, outs, groups))
    return tuple(plots)


def rul_survival(ctx: EvalContext, outs: dict[str, dict], groups: np.ndarray) -> Plot:
    """Kaplan-Meier curve of the test fleet's true RUL (censored at the cap) against the MoE's
    mean predicted survival curve P(RUL > t) (Normal RUL distribution per engine)."""
    from scipy.stats import norm

    from plantpulse.pipelines.evaluate.rul_baselines import km_curve

    grid = np.arange(0, 126)
    fig, ax = plt.subplots(figsize=(6, 4))
    first = next(iter(outs.values()))
    true = np.asarray(first["target"], dtype=float)
    ax.step(grid, km_curve(np.minimum(true, 125) + 1e-9, true < 125, grid), where="post", color="k",
            label="Kaplan-Meier, true RUL (all test engines)")
    for kind, o in outs.items():
        curves = norm.sf(grid[None, :], o["mean"][:, None], np.maximum(o["std"], 1e-3)[:, None])
        ax.plot(grid, curves.mean(0), label=f"MoE {kind}: mean P(RUL > t)")
    ax.set_xlabel("t (cycles from the last test cycle)")
    ax.set_ylabel("share of engines still running")
    ax.legend(fontsize=8)
    ax.set_title("C-MAPSS fleet survival, test engines (FD001–FD004)")
    return ("C-MAPSS fleet survival: Kaplan-Meier vs MoE", _save(fig, ctx, "cmapss_survival.png"))


def confusion(ctx: EvalContext, matrix: np.ndarray, labels: Sequence[str], title: str, name: str) -> Plot:
    """Row-normalised confusion matrix (true class rows, predicted class columns) with counts."""
    fig, ax = plt.subplots(figsize=(1.0 + 0.55 * len(labels), 0.8 + 0.5 * len(labels)))
    share = matrix / np.maximum(matrix.sum(1, keepdims=True), 1)
    ax.imshow(share, cmap="Blues", vmin=0, vmax=1)
    for i in range(len(labels)):
        for j in range(len(labels)):
            if matrix[i, j]:
                ax.text(j, i, str(int(matrix[i, j])), ha="center", va="center", fontsize=7,
                        color="white" if share[i, j] > 0.5 else "black")
    ax.set_xticks(range(len(labels)), labels, rotation=60, ha="right", fontsize=7)
    ax.set_yticks(range(len(labels)), labels, fontsize=7)
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    ax.set_title(title, fontsize=9)
    return (title, _save(fig, ctx, name))


def survival(ctx: EvalContext, grid: np.ndarray, km: np.ndarray, models: dict[str, np.ndarray],
             title: str, name: str, unit: str) -> Plot:
    fig, ax = plt.subplots(figsize=(6, 4))
    ax.step(grid, km, where="post", color="k", label="Kaplan-Meier (test, censored)")
    for label, curve in models.items():
        ax.plot(grid, curve, label=label)
    ax.set_xlabel(f"time from the sample ({unit})")
    ax.set_ylabel("survival probability")
    ax.set_ylim(0, 1.02)
    ax.legend(fontsize=8)
    ax.set_title(title, fontsize=9)
    return (title, _save(fig, ctx, name))


def expert_heatmap(ctx: EvalContext, shares: np.ndarray, rows: Sequence[str], title: str, name: str) -> Plot:
    """Rows: task/modality pairs; columns: experts; cells: share of that row's routed tokens."""
    fig, ax = plt.subplots(figsize=(1.5 + 0.45 * shares.shape[1], 0.9 + 0.35 * len(rows)))
    image = ax.imshow(shares, cmap="viridis", vmin=0, aspect="auto")
    ax.set_xticks(range(shares.shape[1]), [str(e) for e in range(shares.shape[1])], fontsize=7)
    ax.set_yticks(range(len(rows)), rows, fontsize=7)
    ax.set_xlabel("routed expert (all layers)")
    fig.colorbar(image, ax=ax, label="share of routed tokens")
    ax.set_title(title, fontsize=9)
    return (title, _save(fig, ctx, name))
