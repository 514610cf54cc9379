"""Plain-text summaries of weld evaluations, for the CLI and the benchmark log."""

from __future__ import annotations

from collections.abc import Collection, Sequence
from typing import Any

from plantpulse.model.weld.evaluate import DetectionMetrics, VerdictReport
from plantpulse.model.weld.inference import ImageDetections
from plantpulse.model.weld.verdict import DEFAULT_REJECT_CLASSES, VerdictMetrics
from plantpulse.pipelines.weld.display import box_view


def detection_table(metrics: DetectionMetrics) -> str:
    """mAP per class as an aligned text table."""
    lines = [f"Detection on {metrics.part} ({metrics.n_images} images): "
             f"mAP50 {metrics.map50:.3f}  mAP50-95 {metrics.map50_95:.3f}",
             f"  {'class':<12}{'images':>7}{'boxes':>7}{'P':>7}{'R':>7}{'AP50':>7}{'AP50-95':>9}"]
    for row in metrics.per_class:
        lines.append(f"  {row.name:<12}{row.images:>7}{row.instances:>7}{row.precision:>7.3f}"
                     f"{row.recall:>7.3f}{row.ap50:>7.3f}{row.ap50_95:>9.3f}")
    return "\n".join(lines)


def _rate(value: float, ci: Sequence[float]) -> str:
    if value != value:  # NaN: no image of that kind
        return "n/a"
    return f"{100 * value:.1f} % (95 % CI {100 * ci[0]:.1f}-{100 * ci[1]:.1f})"


def verdict_line(name: str, metrics: VerdictMetrics) -> str:
    return (f"  {name:<5} threshold {metrics.threshold:.3f}: false reject "
            f"{metrics.false_rejects}/{metrics.n_good} = "
            f"{_rate(metrics.false_reject_rate, metrics.false_reject_ci)}; false accept "
            f"{metrics.false_accepts}/{metrics.n_defective} = "
            f"{_rate(metrics.false_accept_rate, metrics.false_accept_ci)}")


def verdict_table(report: VerdictReport) -> str:
    head = (f"Verdict (reject if any of {', '.join(report.reject_classes)} >= threshold; "
            f"threshold chosen on val for false reject <= {100 * report.target_false_reject:.1f} %):")
    return "\n".join([head, verdict_line("val", report.val), verdict_line("test", report.test)])


def inspection_line(name: str, result: ImageDetections, score: float, verdict: str,
                    threshold: float, reject_classes: Collection[str] = DEFAULT_REJECT_CLASSES,
                    show_all: bool = False) -> str:
    """One line per image: verdict, score against threshold, and the boxes at or above it.

    Boxes below ``threshold`` are counted, not listed, unless ``show_all``
    (``plantpulse.pipelines.weld.display``); the deciding box is marked with ``*``.
    """
    view = box_view(result.detections, threshold, reject_classes, show_all)
    boxes = ", ".join(f"{'*' if i == view.deciding else ''}{d.class_name} {d.score:.2f}"
                      for i, d in enumerate(view.shown[:5]))
    more = f" (+{len(view.shown) - 5})" if len(view.shown) > 5 else ""
    hidden = f"; {view.hidden} below the threshold not listed" if view.hidden else ""
    sign = ">=" if score >= threshold else "<"
    return (f"{verdict.upper():<6} {score:5.2f} {sign} {threshold:.2f}  {name}  "
            f"[{boxes}{more}]{hidden}")


def inspection_json(name: str, result: ImageDetections, score: float, verdict: str,
                    threshold: float, reject_classes: Collection[str] = DEFAULT_REJECT_CLASSES,
                    show_all: bool = False) -> dict[str, Any]:
    """The JSON row of one image: only boxes at or above the threshold unless ``show_all``."""
    from plantpulse.pipelines.weld.service import detection_json

    view = box_view(result.detections, threshold, reject_classes, show_all)
    decider = view.deciding_box
    return {"image": name, "verdict": verdict, "reject_score": score, "threshold": threshold,
            "deciding_box": detection_json(decider) if decider is not None else None,
            "boxes": [detection_json(d) for d in view.shown],
            "boxes_below_threshold": len(result.detections) - len(view.shown) if not show_all else 0}
