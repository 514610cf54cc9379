"""Weld QC helpers: images with their boxes drawn, and the reject-rate p-chart's subgroups.

Which boxes are drawn follows ``plantpulse.pipelines.weld.display``: only those at or above the
verdict's threshold unless the inspector asks for all, with the deciding box highlighted.
"""

from __future__ import annotations

import io
import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pandas as pd
import streamlit as st
from PIL import Image, ImageDraw, ImageFont, UnidentifiedImageError

from plantpulse.pipelines.weld.display import BoxView, box_view

BOX_COLORS = {"bad weld": "#d1242f", "defect": "#e09b13", "good weld": "#2da44e"}
OTHER_COLOR = "#1f6feb"
DECIDING_WIDTH = 6


def box_color(name: str | None) -> str:
    return BOX_COLORS.get((name or "").lower(), OTHER_COLOR)


def view_of(row: dict[str, Any], reject_classes: Sequence[str], show_all: bool = False) -> BoxView:
    """The display rule applied to one inspection row (``boxes``, ``threshold``)."""
    return box_view(list(row.get("boxes") or []), float(row["threshold"]), reject_classes, show_all)


def drawn_json(view: BoxView) -> str:
    """The boxes of ``view`` to draw, the deciding one flagged, as ``annotated`` takes them."""
    boxes = [{**box, "deciding": index == view.deciding} for index, box in enumerate(view.shown)]
    return boxes_json(boxes)


@st.cache_data(max_entries=256, show_spinner=False)
def annotated(path: str, boxes_json: str, width: int | None = 360) -> bytes | None:
    """The image at ``path`` scaled to ``width`` px (None: full size) with ``boxes_json`` drawn.

    ``boxes_json``: a JSON list of ``{"class_name", "score", "box": [x1, y1, x2, y2]}`` in
    original pixels (JSON, so the cache key is hashable and stable), already filtered by the
    display rule (:func:`drawn_json`); a box with ``"deciding": true`` is drawn last, with a
    thick outline on a white border. Returns None when the file is unreadable.
    """
    try:
        with Image.open(path) as raw:
            image = raw.convert("RGB")
    except (OSError, UnidentifiedImageError):
        return None
    scale = 1.0 if width is None else width / image.width
    if width is not None:
        image = image.resize((width, max(1, round(image.height * scale))))
    draw = ImageDraw.Draw(image)
    font = ImageFont.load_default(size=13 if width is None or width < 600 else 16)
    boxes = sorted(json.loads(boxes_json), key=lambda b: bool(b.get("deciding")))
    for box in boxes:
        x1, y1, x2, y2 = (float(v) * scale for v in box["box"])
        color = box_color(box.get("class_name"))
        if box.get("deciding"):
            draw.rectangle((x1 - 2, y1 - 2, x2 + 2, y2 + 2), outline="white", width=DECIDING_WIDTH + 4)
            draw.rectangle((x1, y1, x2, y2), outline=color, width=DECIDING_WIDTH)
        else:
            draw.rectangle((x1, y1, x2, y2), outline=color, width=3)
        score = box.get("score")
        text = (f"{box.get('class_name', '?')}" + (f" {score:.2f}" if score is not None else "")
                + (" decides" if box.get("deciding") else ""))
        left, top, right, bottom = draw.textbbox((x1, y1), text, font=font)
        y = max(0.0, y1 - (bottom - top) - 4)
        draw.rectangle((x1, y, x1 + (right - left) + 6, y + (bottom - top) + 4), fill=color)
        draw.text((x1 + 3, y + 1), text, fill="white", font=font)
    out = io.BytesIO()
    image.save(out, format="PNG", optimize=True)
    return out.getvalue()


ZOOM_LEVELS = (1, 2, 3, 4)


def zoomed(png: bytes, zoom: int, focus: tuple[float, float] | None = None) -> bytes:
    """``png`` magnified ``zoom`` times around ``focus`` (pixels; default the centre), same size.

    The crop is kept inside the image, so the view never shows empty margins.
    """
    if zoom <= 1:
        return png
    with Image.open(io.BytesIO(png)) as raw:
        image = raw.convert("RGB")
    w, h = image.width / zoom, image.height / zoom
    cx, cy = focus or (image.width / 2, image.height / 2)
    left = min(max(0.0, cx - w / 2), image.width - w)
    top = min(max(0.0, cy - h / 2), image.height - h)
    crop = image.resize(image.size, Image.Resampling.LANCZOS, box=(left, top, left + w, top + h))
    out = io.BytesIO()
    crop.save(out, format="PNG")
    return out.getvalue()


def box_centre(box: dict[str, Any] | None) -> tuple[float, float] | None:
    if not box:
        return None
    x1, y1, x2, y2 = (float(v) for v in box["box"])
    return (x1 + x2) / 2, (y1 + y2) / 2


def boxes_json(boxes: Sequence[dict[str, Any]] | None) -> str:
    return json.dumps(list(boxes or []), sort_keys=True)


def image_file(store: Path, storage_path: str) -> str:
    return str(Path(store) / storage_path)


def p_chart_frame(points: list[dict]) -> pd.DataFrame:
    """Chart rows: reject rate per shift, limits, and the alert rule's ``judged``/``out`` verdicts
    (from :func:`plantpulse.pipelines.alerts.pchart.chart_points`: the one place that judges)."""
    frame = pd.DataFrame(points)
    frame["group"] = frame["cell"]
    return frame
