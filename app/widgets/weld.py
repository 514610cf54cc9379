"""Weld QC helpers: images with their boxes drawn, and the reject-rate p-chart's subgroups."""

from __future__ import annotations

import io
import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pandas as pd
import streamlit as st
from PIL import Image, ImageDraw, ImageFont, UnidentifiedImageError

BOX_COLORS = {"bad weld": "#d1242f", "defect": "#e09b13", "good weld": "#2da44e"}
OTHER_COLOR = "#1f6feb"


def box_color(name: str | None) -> str:
    return BOX_COLORS.get((name or "").lower(), OTHER_COLOR)


@st.cache_data(max_entries=256, show_spinner=False)
def annotated(path: str, boxes_json: str, width: int = 360) -> bytes | None:
    """The image at ``path`` scaled to ``width`` px with its boxes drawn; None if unreadable.

    ``boxes_json``: a JSON list of ``{"class_name", "score", "box": [x1, y1, x2, y2]}`` in
    original pixels (JSON, so the cache key is hashable and stable).
    """
    try:
        with Image.open(path) as raw:
            image = raw.convert("RGB")
    except (OSError, UnidentifiedImageError):
        return None
    scale = width / image.width
    image = image.resize((width, max(1, round(image.height * scale))))
    draw = ImageDraw.Draw(image)
    font = ImageFont.load_default(size=13)
    for box in json.loads(boxes_json):
        x1, y1, x2, y2 = (float(v) * scale for v in box["box"])
        color = box_color(box.get("class_name"))
        draw.rectangle((x1, y1, x2, y2), outline=color, width=3)
        score = box.get("score")
        text = f"{box.get('class_name', '?')}" + (f" {score:.2f}" if score is not None else "")
        left, top, right, bottom = draw.textbbox((x1, y1), text, font=font)
        y = max(0.0, y1 - (bottom - top) - 4)
        draw.rectangle((x1, y, x1 + (right - left) + 6, y + (bottom - top) + 4), fill=color)
        draw.text((x1 + 3, y + 1), text, fill="white", font=font)
    out = io.BytesIO()
    image.save(out, format="PNG", optimize=True)
    return out.getvalue()


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
