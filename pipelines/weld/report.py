"""Plain-text summaries of weld evaluations, for the CLI and the benchmark log."""

from __future__ import annotations

from collections.abc import Sequence

from plantpulse.model.weld.evaluate import DetectionMetrics, VerdictReport
from plantpulse.model.weld.inference import ImageDetections
from plantpulse.model.weld.verdict import VerdictMetrics


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


def inspection_line(name: str, result: ImageDetections, score: float, verdict: str) -> str:
    boxes = ", ".join(f"{d.class_name} {d.score:.2f}" for d in result.detections[:5])
    more = f" (+{len(result.detections) - 5})" if len(result.detections) > 5 else ""
    return f"{verdict.upper():<6} {score:5.2f}  {name}  [{boxes}{more}]"
