"""Pass/fail weld verdicts of the image classifiers and of the shipped YOLO detector, with the
detector's own verdict functions (``plantpulse.model.weld.verdict``)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from plantpulse.model.moe.training import TaskSplits
from plantpulse.model.weld.verdict import VerdictMetrics, choose_threshold, verdict_metrics
from plantpulse.pipelines.evaluate.records import EvalContext

TARGET_FALSE_REJECT = 0.05
GOOD = 0  # index of good_weld in the task's classes


def _rates(m: VerdictMetrics) -> str:
    def pct(k: int, n: int, ci: tuple[float, float]) -> str:
        return f"{k}/{n} = {100 * k / n:.1f} % ({100 * ci[0]:.0f}–{100 * ci[1]:.0f})" if n else "n/a"
    return (f"{pct(m.false_rejects, m.n_good, m.false_reject_ci)} | "
            f"{pct(m.false_accepts, m.n_defective, m.false_accept_ci)}")


def yolo_scores(ctx: EvalContext) -> tuple[dict[str, float], dict[str, float], set[str], str] | None:
    """The shipped detector's reject scores on the val and test images of the split it was
    trained on (file name -> score), the set of its test file names and that split's name; None
    without the checkpoint.

    The split is the one recorded in the detector's model card (the clip split, the default
    protocol, for a detector trained on it): scoring it on any other split would count images
    of clips it was trained on."""
    from plantpulse.model.weld.checkpoint import SHIPPED_CHECKPOINT, load_weld_model
    from plantpulse.model.weld.dataset import drop_exact_duplicates, scan_yolo_dataset
    from plantpulse.model.weld.predict import TorchWeldDetector
    from plantpulse.model.weld.splits import DEFAULT_STRATEGY
    from plantpulse.pipelines.weld.workflow import make_split, reject_scores

    if not Path(SHIPPED_CHECKPOINT).is_file():
        return None
    model = load_weld_model(SHIPPED_CHECKPOINT)
    names, items = scan_yolo_dataset(ctx.datasets_dir / "weld_surface_yolo")
    items, _ = drop_exact_duplicates(items)
    recorded = model.card.train or {}
    strategy = str(recorded.get("split") or DEFAULT_STRATEGY).split("+", 1)[0]
    split = make_split(items, names, strategy, int(recorded.get("split_seed") or 0), ("Bad Weld", "Defect"))
    detector = TorchWeldDetector.from_model(model)
    out = []
    for part in (split.val, split.test):
        scores = reject_scores(detector, part, ("Bad Weld", "Defect"))
        out.append({item.name: float(s) for item, s in zip(part, scores, strict=True)})
    return out[0], out[1], set(out[1]), strategy


def verdict_table(ctx: EvalContext, splits: TaskSplits, probs: dict[str, tuple[np.ndarray, np.ndarray]]
                  ) -> tuple[str, tuple[str, ...]]:
    """Markdown table of verdict rates per model (own test set and the shared test images)."""
    files = list(splits.test.info["files"])
    truth_test = splits.test.targets != GOOD
    truth_val = splits.val.targets != GOOD
    yolo = yolo_scores(ctx)
    common = np.array([f in yolo[2] for f in files]) if yolo else np.zeros(len(files), bool)
    lines = [f"**Pass/fail verdict** (threshold chosen on validation for ≤ {100 * TARGET_FALSE_REJECT:.0f} % "
             f"false rejects; 95 % Wilson intervals)", "",
             "| model | threshold | own test: false reject | own test: false accept | "
             f"shared test ({int(common.sum())} images): false reject | shared: false accept |",
             "|---|---:|---:|---:|---:|---:|"]
    for name, (val_p, test_p) in probs.items():
        threshold = choose_threshold(1 - val_p[:, GOOD], truth_val, TARGET_FALSE_REJECT)
        own = verdict_metrics(1 - test_p[:, GOOD], truth_test, threshold)
        shared = verdict_metrics(1 - test_p[common, GOOD], truth_test[common], threshold)
        lines.append(f"| {name} | {threshold:.3f} | {_rates(own)} | {_rates(shared)} |")
    notes: tuple[str, ...] = ("The YOLO detector checkpoint is not present; its verdict row is left out.",)
    if yolo:
        val_scores, test_scores, _, strategy = yolo
        val_names = list(val_scores)
        val_truth = _truth_by_name(ctx, val_names)
        threshold = choose_threshold([val_scores[n] for n in val_names], val_truth, TARGET_FALSE_REJECT)
        test_names = list(test_scores)
        own = verdict_metrics([test_scores[n] for n in test_names], _truth_by_name(ctx, test_names), threshold)
        shared_names = [f for f, c in zip(files, common, strict=True) if c]
        shared = verdict_metrics([test_scores[n] for n in shared_names], truth_test[common], threshold)
        lines.append(f"| YOLO11n detector (shipped, int8) | {threshold:.3f} | {_rates(own)} | {_rates(shared)} |")
        notes = (f"YOLO 'own test' is the test part ({len(test_names)} images) of the {strategy} split it was "
                 f"trained on; the classifiers' is this protocol's ({len(files)} images). 'Shared test' images "
                 f"are in both.",)
    return "\n".join(lines), notes


def _truth_by_name(ctx: EvalContext, names: list[str]) -> np.ndarray:
    """Defective (any Bad Weld / Defect box) per file name, from the dataset's label files."""
    from plantpulse.data.datasets import load_dataset

    data = ctx.cache.setdefault("raw:weld", load_dataset("weld_surface_yolo", ctx.datasets_dir))
    defective = {item.image_path.name: bool(np.isin(item.boxes[:, 0].astype(int), (0, 2)).any())
                 for item in data.items}
    return np.array([defective[n] for n in names], dtype=bool)
