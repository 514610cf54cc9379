"""YOLO label lines, the one parser: ``class cx cy w h`` with the box normalised to 0..1.

Used by the image connector (uploads), the weld detector's dataset scan and the public weld
dataset loader; each adds where the line came from and decides what a bad line means for it
(a quarantined line, or an error for the whole dataset).
"""

from __future__ import annotations

from collections.abc import Sequence

from plantpulse.data.core.errors import InputDataError
from plantpulse.data.core.records import YoloBox


def _number(token: str, where: str) -> float:
    try:
        return float(token)
    except ValueError:
        raise InputDataError(f"{where}: {token!r} is not a number.") from None


def parse_yolo_line(line: str, where: str, n_classes: int | None = None, *, polygons: bool = False,
                    names: Sequence[str] = ()) -> YoloBox:
    """One label line as a box; ``where`` (``file:line``) starts every error message.

    ``polygons`` also accepts YOLO segmentation lines (``class x1 y1 x2 y2 ...``) as their
    bounding box; ``n_classes`` bounds the class index; ``names`` gives the box its class name.
    """
    fields = line.split()
    is_polygon = polygons and len(fields) >= 7 and len(fields) % 2 == 1
    if len(fields) != 5 and not is_polygon:
        msg = f"{where}: expected 5 fields 'class cx cy w h', got {len(fields)}: {line.strip()!r}."
        raise InputDataError(msg)
    limit = n_classes if n_classes is not None else (len(names) or None)
    if not fields[0].isdigit() or (limit is not None and int(fields[0]) >= limit):
        bound = f"an index below {limit} (the class list)" if limit is not None else "a class index (0, 1, ...)"
        raise InputDataError(f"{where}: class {fields[0]!r} is not {bound}.")
    numbers = [_number(token, where) for token in fields[1:]]
    if is_polygon:
        xs, ys = numbers[0::2], numbers[1::2]
        numbers = [(min(xs) + max(xs)) / 2, (min(ys) + max(ys)) / 2, max(xs) - min(xs), max(ys) - min(ys)]
    cx, cy, w, h = numbers
    if not all(0.0 <= v <= 1.0 for v in (cx, cy, w, h)) or w <= 0 or h <= 0:
        msg = f"{where}: coordinates must be normalised to 0..1 with a positive size, got {cx}, {cy}, {w}, {h}."
        raise InputDataError(msg)
    class_id = int(fields[0])
    return YoloBox(class_id, cx, cy, w, h, names[class_id] if names else None)
