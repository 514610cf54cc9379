"""Weld-surface photos: whole-image weld class, and the pass/fail verdict beside the YOLO detector.

Class per image from its boxes, by severity: ``defect`` if any Defect box, else ``bad_weld`` if
any Bad Weld box, else ``good_weld``. Byte-identical files are kept once. The split is **by video
clip**, the weld default: every image is grouped by its video clip, or, for a photo that is not a
video frame, by its Roboflow source image (the name before ``.rf.``), so frames of one clip and
augmentation copies of one photo never straddle splits (the dataset's own folders are not used:
one source sits in both its train and test folders). Groups are shuffled per seed within strata of
their most severe class and fill test and val up to 15 % of the images each; a clip larger than
that trains. Images at the MoE's input size. Accuracy and macro-F1 over the 3 classes.

Verdict: an image is *defective* when it has a Bad Weld or Defect box. Each model's reject score
(classifiers: P(bad_weld) + P(defect); YOLO: highest Bad Weld / Defect box score) is thresholded
at the value chosen on *its own validation images* for a 5 % false-reject rate, then false-accept
and false-reject rates are measured on test images. The side-by-side comparison uses the test
images that are test images of **both** splits (the split the YOLO detector was trained on, as
recorded in its model card, and this protocol's split of the first seed), so no model has seen
them.
"""

from __future__ import annotations

import numpy as np

from plantpulse.model.image_features import image_features
from plantpulse.model.metrics import confusion
from plantpulse.model.moe.training import TaskSplits
from plantpulse.pipelines.evaluate import plots
from plantpulse.pipelines.evaluate.classify import collect, plain_baseline
from plantpulse.pipelines.evaluate.gbm import class_probabilities
from plantpulse.pipelines.evaluate.records import EvalContext, ProtocolResult, at_least_targets
from plantpulse.pipelines.evaluate.weld_verdict import verdict_table
from plantpulse.pipelines.train.tasks.weld import CLASSES, WELD_TASK

CASE = "weld class"
# the teacher's target of the issue "the MoE earns its place"
TARGETS = (((CASE, "macro_f1"), "weld class macro-F1", 0.52),)


def gbm(ctx: EvalContext):
    def fit(splits: TaskSplits, seed: int) -> tuple[np.ndarray, np.ndarray]:
        x = [image_features(d.images) for d in (splits.train, splits.val, splits.test)]
        probs = class_probabilities(x[0], splits.train.targets, x[1], splits.val.targets,
                                    np.concatenate([x[1], x[2]]), len(CLASSES), ctx.budget.gbm_iter, seed)
        return probs[: len(x[1])], probs[len(x[1]):]
    return fit


def run(ctx: EvalContext) -> ProtocolResult:
    found = collect(ctx, "weld_surface_yolo", WELD_TASK.name,
                    {"Gradient boosting (colour + gradient features)": gbm(ctx),
                     "Plain CNN (image)": plain_baseline(ctx, "weld")}, CASE)
    splits = found.splits
    matrix = confusion(found.first["MoE teacher"][1].argmax(1), splits.test.targets, len(CLASSES))
    plot = plots.confusion(ctx, matrix, CLASSES, "Weld class, MoE teacher (test)", "weld_confusion.png")
    table, notes = verdict_table(ctx, splits, found.first)
    built = tuple(r.row() for r in found.rows.values())
    return ProtocolResult(
        name="weld", title="Weld-surface images: weld class and pass/fail verdict",
        protocol=__doc__.split("\n\n", 1)[1].strip(), columns=((CASE, "accuracy"), (CASE, "macro_f1")),
        rows=built, plots=(plot,), extra_tables=(table,),
        targets=at_least_targets(built, TARGETS),
        notes=(f"Seeds {list(ctx.seeds)}; test images (first seed): {len(splits.test)}.", *notes))
