"""Which detector boxes an inspector sees: those at or above the operating threshold, and the deciding one.

The detector stores every box above a low floor (settings ``weld.min_box_score``, 0.01) so the
threshold can move later; drawn, dozens of weak boxes hide the weld. The dashboard gallery, its
full-size view and ``plantpulse weld predict`` (text and JSON) therefore show only boxes scoring
at or above the verdict's threshold unless asked for all of them, and mark the *deciding* box:
the highest-scoring box of a reject class, whose score is the image's reject score
(``plantpulse.model.weld.verdict.reject_score``). A box without a score (drawn by a reviewer) is
always shown.

Plain functions over box dicts (``{"class_name", "score", "box"}``) or objects with ``class_name``
and ``score`` attributes; nothing here imports the detector.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from typing import Any


def score_of(box: Any) -> float | None:
    value = box.get("score") if isinstance(box, Mapping) else getattr(box, "score", None)
    return None if value is None else float(value)


def class_of(box: Any) -> str | None:
    value = box.get("class_name") if isinstance(box, Mapping) else getattr(box, "class_name", None)
    return None if value is None else str(value)


def is_shown(box: Any, threshold: float, show_all: bool = False) -> bool:
    """True when ``box`` is drawn: scored at or above ``threshold``, unscored, or ``show_all``."""
    score = score_of(box)
    return show_all or score is None or score >= threshold


def deciding_index(boxes: Sequence[Any], reject_classes: Collection[str]) -> int | None:
    """Index of the highest-scoring reject-class box (the first on ties); None without one."""
    best: int | None = None
    for index, box in enumerate(boxes):
        score = score_of(box)
        if class_of(box) in reject_classes and score is not None:
            if best is None or score > (score_of(boxes[best]) or 0.0):
                best = index
    return best


@dataclass(frozen=True, slots=True)
class BoxView:
    """The boxes to draw for one image, and what to say beside it."""

    shown: tuple[Any, ...]
    deciding: int | None  # index into ``shown`` of the deciding box, when it is shown
    deciding_box: Any | None  # the deciding box itself, shown or not
    total: int
    threshold: float
    show_all: bool

    @property
    def hidden(self) -> int:
        return self.total - len(self.shown)

    def count_line(self) -> str:
        """``3 of 41 boxes drawn (score ≥ 0.47)``: the line the gallery and its tests read."""
        rule = "all scores" if self.show_all else f"score ≥ {self.threshold:.2f}"
        return f"{len(self.shown)} of {self.total} boxes drawn ({rule})"

    def deciding_line(self) -> str:
        """Which box decided the verdict, and whether it is drawn."""
        box = self.deciding_box
        if box is None:
            return "No reject-class box."
        where = "" if self.deciding is not None else " (below the threshold, not drawn)"
        return f"Deciding box: {class_of(box)} {score_of(box):.2f}{where}"


def box_view(boxes: Sequence[Any] | None, threshold: float, reject_classes: Collection[str],
             show_all: bool = False) -> BoxView:
    """Apply the display rule to one image's boxes (order kept)."""
    boxes = list(boxes or [])
    decider = deciding_index(boxes, reject_classes)
    shown: list[Any] = []
    deciding: int | None = None
    for index, box in enumerate(boxes):
        if is_shown(box, threshold, show_all):
            if index == decider:
                deciding = len(shown)
            shown.append(box)
    return BoxView(tuple(shown), deciding, boxes[decider] if decider is not None else None,
                   len(boxes), float(threshold), show_all)
