"""One pass/fail weld verdict from several reject scores (the detector's, a whole-image
classifier's), with the way of combining them chosen on validation images only.

Every score is a number per image where higher means "more likely defective". The candidate
verdicts are each score alone, the mean and the maximum of the scores after mapping each onto
its validation distribution (a rank in 0..1, so a detector's box confidence and a classifier's
probability are comparable), and a logistic regression on the scores' logits. The candidate with
the highest validation ROC AUC wins; the logistic regression, which is fitted, is judged by its
cross-validated AUC on the validation images so it gains nothing from having seen them. Operating
points (thresholds for target false-reject rates) are then chosen on validation and the rates
measured once on test, with Wilson intervals.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import StratifiedKFold, cross_val_predict

from plantpulse.data.core.errors import InputDataError
from plantpulse.model.metrics import roc_auc
from plantpulse.model.weld.verdict import VerdictMetrics, choose_threshold, verdict_metrics

TARGETS = (0.01, 0.05, 0.10)  # false-reject rates an operating point is chosen for on validation


@dataclass(frozen=True, slots=True)
class Scores:
    """Reject scores of one image set by source name, and the images' truth (True: defective)."""

    by_source: Mapping[str, np.ndarray]  # name -> (N,) scores
    defective: np.ndarray  # (N,) bool

    def __post_init__(self) -> None:
        n = len(self.defective)
        for name, s in self.by_source.items():
            if np.shape(s) != (n,) or not np.isfinite(s).all():
                raise InputDataError(f"Scores of {name!r} must be {n} finite numbers, one per image; got shape "
                                     f"{np.shape(s)}.")


@dataclass(frozen=True, slots=True)
class Candidate:
    name: str
    val_auc: float  # cross-validated for a fitted combination
    val: np.ndarray
    test: np.ndarray


@dataclass(frozen=True, slots=True)
class FusionReport:
    chosen: str
    targets: tuple[float, ...]
    candidates: tuple[Candidate, ...]
    test_auc: dict[str, float]
    operating_points: dict[str, list[VerdictMetrics]]  # candidate -> one per target

    def to_dict(self) -> dict[str, Any]:
        return {"chosen": self.chosen, "targets": list(self.targets),
                "val_auc": {c.name: c.val_auc for c in self.candidates}, "test_auc": self.test_auc,
                "operating_points": {name: [_point(m, t) for m, t in zip(points, self.targets, strict=True)]
                                     for name, points in self.operating_points.items()}}


def _point(m: VerdictMetrics, target: float) -> dict[str, Any]:
    return {"target_false_reject": target, "threshold": m.threshold, "n_good": m.n_good,
            "n_defective": m.n_defective, "false_rejects": m.false_rejects, "false_accepts": m.false_accepts,
            "false_reject_rate": m.false_reject_rate, "false_accept_rate": m.false_accept_rate,
            "false_reject_ci": list(m.false_reject_ci), "false_accept_ci": list(m.false_accept_ci)}


def _rank(reference: np.ndarray, x: np.ndarray) -> np.ndarray:
    """Where each value of ``x`` falls in the validation distribution ``reference`` (0..1)."""
    ref = np.sort(reference)
    return (np.searchsorted(ref, x, side="left") + np.searchsorted(ref, x, side="right")) / (2.0 * len(ref))


def _logit(x: np.ndarray) -> np.ndarray:
    p = np.clip(x, 1e-4, 1 - 1e-4)
    return np.log(p / (1 - p))


def candidates(val: Scores, test: Scores, seed: int = 0) -> list[Candidate]:
    """Each source alone, rank mean and max, and a logistic regression (cross-validated on val)."""
    names = sorted(val.by_source)
    if set(names) != set(test.by_source):
        raise InputDataError(f"Validation and test scores come from different sources: {names} vs "
                             f"{sorted(test.by_source)}.")
    y = val.defective.astype(int)
    out = [Candidate(n, roc_auc(val.by_source[n], val.defective), val.by_source[n], test.by_source[n]) for n in names]
    if len(names) < 2:
        return out
    ranks_val = np.stack([_rank(val.by_source[n], val.by_source[n]) for n in names], 1)
    ranks_test = np.stack([_rank(val.by_source[n], test.by_source[n]) for n in names], 1)
    for label, fn in (("mean of ranks", np.mean), ("max of ranks", np.max)):
        v, t = fn(ranks_val, axis=1), fn(ranks_test, axis=1)
        out.append(Candidate(label, roc_auc(v, val.defective), v, t))
    x_val = np.stack([_logit(val.by_source[n]) for n in names], 1)
    x_test = np.stack([_logit(test.by_source[n]) for n in names], 1)
    folds = min(5, int(y.sum()), int((1 - y).sum()))
    if folds >= 2:
        model = LogisticRegression(C=1.0)
        cv = cross_val_predict(model, x_val, y, cv=StratifiedKFold(folds, shuffle=True, random_state=seed),
                               method="predict_proba")[:, 1]
        model.fit(x_val, y)
        out.append(Candidate("logistic regression", roc_auc(cv, val.defective), model.predict_proba(x_val)[:, 1],
                             model.predict_proba(x_test)[:, 1]))
    return out


def fuse(val: Scores, test: Scores, targets: Sequence[float] = TARGETS, seed: int = 0) -> FusionReport:
    """Choose the verdict on validation; report every candidate's test AUC and operating points."""
    found = candidates(val, test, seed)
    chosen = max(found, key=lambda c: -1.0 if np.isnan(c.val_auc) else c.val_auc)
    points = {c.name: [verdict_metrics(c.test, test.defective, choose_threshold(c.val, val.defective, t))
                       for t in targets] for c in found}
    return FusionReport(chosen.name, tuple(targets), tuple(found), {c.name: roc_auc(c.test, test.defective) for c in found}, points)


def markdown(report: FusionReport) -> str:
    """The candidates' AUCs and each one's test rates at the operating points chosen on val."""
    def pct(k: int, n: int, ci: list[float] | tuple[float, float]) -> str:
        return f"{k}/{n} = {100 * k / n:.1f} % ({100 * ci[0]:.1f}–{100 * ci[1]:.1f})" if n else "n/a"

    lines = ["| verdict | val ROC AUC | test ROC AUC | " + " | ".join(
        f"false reject / false accept, test ({100 * t:g} % target)" for t in report.targets) + " |",
        "|---|---:|---:|" + "---|" * len(report.targets)]
    for c in report.candidates:
        name = f"**{c.name}** (chosen on val)" if c.name == report.chosen else c.name
        rates = " | ".join(f"{pct(m.false_rejects, m.n_good, m.false_reject_ci)} / "
                           f"{pct(m.false_accepts, m.n_defective, m.false_accept_ci)}"
                           for m in report.operating_points[c.name])
        lines.append(f"| {name} | {c.val_auc:.3f} | {report.test_auc[c.name]:.3f} | {rates} |")
    return "\n".join(lines)
