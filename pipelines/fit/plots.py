"""The fit report's figures: every learner side by side on the held-out windows (matplotlib, Agg
backend, PNG files beside ``fit-report.md``).

RUL: predicted against true remaining life (windows whose end of life is known; the diagonal is a
perfect prediction). Class: the confusion matrices. Anomaly: the score of normal windows against
later ones (a good detector separates them).
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np

if TYPE_CHECKING:
    from matplotlib.axes import Axes

    from plantpulse.pipelines.fit.job import Prepared
    from plantpulse.pipelines.fit.learners import Trained
    from plantpulse.pipelines.fit.spec import FitSpec

LEARNER_TITLES = {"gbm": "baseline (gbm)", "weibull": "survival (Weibull AFT)", "moe": "MoE"}


def _rul(ax: Axes, outputs: dict[str, np.ndarray], prep: Prepared, unit: str) -> None:
    test = prep.data.test
    known = prep.observed[test].astype(bool)
    true, pred = prep.data.targets[test][known], outputs["mean"][known]
    top = float(max(true.max(initial=1.0), pred.max(initial=1.0)))
    ax.plot([0, top], [0, top], "k-", lw=1, label="perfect")
    ax.plot(true, pred, ".", ms=4, alpha=0.7, label="held-out window")
    ax.set_xlabel(f"true RUL ({unit})")
    ax.set_ylabel(f"predicted RUL ({unit})")
    ax.legend(fontsize=8)


def _confusion(ax: Axes, confusion: list[list[int]], classes: tuple[str, ...]) -> None:
    matrix = np.asarray(confusion)  # rows: true class, columns: predicted (the metrics' confusion)
    ax.imshow(matrix, cmap="Blues")
    for (i, j), value in np.ndenumerate(matrix):
        ax.text(j, i, str(value), ha="center", va="center", fontsize=9)
    ax.set_xticks(range(len(classes)), classes, rotation=45, ha="right", fontsize=8)
    ax.set_yticks(range(len(classes)), classes, fontsize=8)
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")


def _scores(ax: Axes, outputs: dict[str, np.ndarray], prep: Prepared) -> None:
    normal = prep.data.targets[prep.data.test].astype(bool)
    score = outputs["score"]
    bins = np.histogram_bin_edges(score, bins=20).tolist()
    ax.hist(score[normal], bins=bins, alpha=0.6, label="normal period")
    ax.hist(score[~normal], bins=bins, alpha=0.6, label="later")
    ax.set_xlabel("anomaly score")
    ax.set_ylabel("held-out windows")
    ax.legend(fontsize=8)


def comparison_plot(out_dir: Path, spec: FitSpec, prep: Prepared, trained: list[Trained],
                    metrics: dict[str, dict[str, Any]]) -> tuple[str, str]:
    """One PNG with a panel per learner; returns (caption, file name relative to ``out_dir``)."""
    fig, axes = plt.subplots(1, len(trained), figsize=(5 * len(trained), 4), squeeze=False)
    for ax, t in zip(axes[0], trained, strict=True):
        if spec.target == "rul":
            _rul(ax, t.outputs, prep, prep.info.get("rul_unit") or "steps")
        elif spec.target == "class":
            _confusion(ax, metrics[t.kind]["confusion"], prep.data.classes)
        else:
            _scores(ax, t.outputs, prep)
        ax.set_title(LEARNER_TITLES.get(t.kind, t.kind))
    caption = {"rul": "Predicted against true RUL on the held-out assets",
               "class": "Confusion matrices on the held-out windows",
               "anomaly": "Anomaly scores of normal and later held-out windows"}[spec.target]
    fig.suptitle(f"{spec.asset_type} / {spec.target}: {caption.lower()}")
    name = f"fit-{spec.target}.png"
    fig.tight_layout()
    out_dir.mkdir(parents=True, exist_ok=True)
    fig.savefig(out_dir / name, dpi=90)
    plt.close(fig)
    return caption, name
