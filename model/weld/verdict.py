"""Pass/fail verdicts per weld image, and their error rates.

A weld image is *rejected* when its reject score reaches the operating threshold. For the YOLO
detector the reject score is the highest confidence of any box of a defect class (by default
``Bad Weld`` and ``Defect``); any other model that outputs one score per image (e.g. a
classification head) can be evaluated with the same functions, which take plain arrays.

Terms: a *false reject* is a good weld rejected (scrap or re-inspection cost); a *false accept*
is a defective weld passed (the costly miss). The threshold is chosen on validation images for a
target false-reject rate, then both rates are measured on test images the threshold never saw.
"""

from __future__ import annotations

import math
from collections.abc import Collection, Sequence
from dataclasses import dataclass

import numpy as np

from plantpulse.data.core.errors import InputDataError
from plantpulse.model.metrics import wilson_interval
from plantpulse.model.weld.inference import ImageDetections

DEFAULT_REJECT_CLASSES = ("Bad Weld", "Defect")


@dataclass(frozen=True, slots=True)
class VerdictMetrics:
    """Error rates of reject-if-score>=threshold on a labelled image set.

    Intervals are 95 % Wilson score intervals: with few good images, a rate of 0 is far from
    proven, and the interval says how far.
    """

    threshold: float
    n_defective: int
    n_good: int
    false_accepts: int
    false_rejects: int
    false_accept_rate: float
    false_reject_rate: float
    false_accept_ci: tuple[float, float]
    false_reject_ci: tuple[float, float]
    accuracy: float


def reject_score(result: ImageDetections, reject_classes: Collection[str] = DEFAULT_REJECT_CLASSES,
                 ) -> float:
    """Highest score of any defect-class box in the image (0 when there is none)."""
    scores = [d.score for d in result.detections if d.class_name in reject_classes]
    return max(scores, default=0.0)


def is_rejected(score: float, threshold: float) -> bool:
    return score >= threshold


def _arrays(scores: Sequence[float], defective: Sequence[bool]) -> tuple[np.ndarray, np.ndarray]:
    s = np.asarray(scores, dtype=np.float64)
    d = np.asarray(defective, dtype=bool)
    if s.shape != d.shape or s.ndim != 1:
        msg = ("scores and defective labels must be two 1-D sequences of one length; "
               f"got {s.shape} and {d.shape}.")
        raise InputDataError(msg)
    if s.size and not np.isfinite(s).all():
        raise InputDataError("reject scores contain NaN or infinite values.")
    return s, d


def verdict_metrics(scores: Sequence[float], defective: Sequence[bool],
                    threshold: float) -> VerdictMetrics:
    """False-accept and false-reject rates of ``score >= threshold`` against ground truth."""
    s, d = _arrays(scores, defective)
    rejected = s >= threshold
    n_def, n_good = int(d.sum()), int((~d).sum())
    fa, fr = int((d & ~rejected).sum()), int((~d & rejected).sum())
    return VerdictMetrics(
        threshold=float(threshold), n_defective=n_def, n_good=n_good,
        false_accepts=fa, false_rejects=fr,
        false_accept_rate=fa / n_def if n_def else float("nan"),
        false_reject_rate=fr / n_good if n_good else float("nan"),
        false_accept_ci=wilson_interval(fa, n_def), false_reject_ci=wilson_interval(fr, n_good),
        accuracy=float((rejected == d).mean()) if s.size else float("nan"),
    )


def choose_threshold(scores: Sequence[float], defective: Sequence[bool],
                     target_false_reject: float) -> float:
    """Lowest threshold whose false-reject rate on these images is <= the target.

    The lowest such threshold rejects the most defective welds (fewest false accepts) while
    keeping good-weld rejections within the target. Choose it on validation images only.
    """
    if not 0.0 <= target_false_reject <= 1.0:
        raise InputDataError(f"target_false_reject must be in [0, 1]; got {target_false_reject}.")
    s, d = _arrays(scores, defective)
    good = np.sort(s[~d])[::-1]
    if good.size == 0:
        raise InputDataError("Cannot choose a threshold without any good (non-defective) image.")
    allowed = math.floor(target_false_reject * good.size + 1e-9)
    if allowed >= good.size:
        return 0.0
    # Rejecting exactly the `allowed` highest good scores: the threshold sits just above the next.
    return float(np.nextafter(good[allowed], np.inf))
