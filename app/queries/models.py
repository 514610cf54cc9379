"""Model versions, and the evaluation and benchmark reports the project writes under docs/."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pandas as pd
import streamlit as st
from sqlalchemy import func, select

from plantpulse.app.queries.sql import database
from plantpulse.data.core.resources import docs_dir
from plantpulse.data.store.schema import ModelVersion, Prediction

DOCS = docs_dir()
RESULT_JSON_NAMES = ("results.json", "RESULTS.json", "evaluation.json")
_IMAGE = re.compile(r"!\[([^\]]*)\]\(([^)\s]+)(?:\s+\"[^\"]*\")?\)")


@st.cache_data(ttl=10, show_spinner=False)
def versions(url: str) -> pd.DataFrame:
    """Every model version with how many predictions it made, newest first within each name."""
    used = (select(Prediction.model_version_id, func.count().label("predictions"))
            .group_by(Prediction.model_version_id).subquery())
    query = (select(ModelVersion.id, ModelVersion.name, ModelVersion.version, ModelVersion.kind,
                    ModelVersion.task, ModelVersion.stage, ModelVersion.created_at,
                    ModelVersion.promoted_at, ModelVersion.metrics, ModelVersion.path,
                    ModelVersion.data_fingerprint, func.coalesce(used.c.predictions, 0).label("predictions"))
             .outerjoin(used, used.c.model_version_id == ModelVersion.id)
             .order_by(ModelVersion.name, ModelVersion.version.desc()))
    with database(url).session() as session:
        return pd.DataFrame(session.execute(query).mappings().all())


def rollback_target(frame: pd.DataFrame) -> int | None:
    """The version to go back to: the most recently promoted archived one, else the newest older one."""
    current = frame[frame["stage"] == "production"]
    archived = frame[frame["stage"] == "archived"]
    if len(archived) and archived["promoted_at"].notna().any():
        return int(archived.sort_values("promoted_at", na_position="first").iloc[-1]["id"])
    if len(current):
        older = frame[frame["version"] < int(current.iloc[0]["version"])]
        return int(older.iloc[0]["id"]) if len(older) else None
    return None


def metric_table(frame: pd.DataFrame) -> pd.DataFrame:
    """Numeric metrics of each version in long form: ``model``, ``metric``, ``value``."""
    rows = []
    for row in frame.itertuples(index=False):
        for metric, value in flatten(row.metrics or {}).items():
            if isinstance(value, int | float) and not isinstance(value, bool):
                rows.append((f"v{row.version} ({row.stage})", metric, float(value)))
    return pd.DataFrame(rows, columns=["model", "metric", "value"])


def flatten(data: Any, prefix: str = "") -> dict[str, Any]:
    """Nested dicts/lists -> ``{"a.b.0": value}`` (leaves only)."""
    if isinstance(data, dict):
        out: dict[str, Any] = {}
        for key, value in data.items():
            out |= flatten(value, f"{prefix}{key}.")
        return out
    if isinstance(data, list) and all(isinstance(v, dict | list | int | float | str | None) for v in data) \
            and len(data) <= 50:
        out = {}
        for i, value in enumerate(data):
            out |= flatten(value, f"{prefix}{i}.")
        return out
    return {prefix.rstrip("."): data}


def find_results(extra: tuple[Path, ...] = ()) -> Path | None:
    """The machine-readable evaluation results, if ``plantpulse evaluate`` has written them."""
    for folder in (*extra, DOCS, DOCS / "results"):
        for name in RESULT_JSON_NAMES:
            path = Path(folder) / name
            if path.is_file():
                return path
    return None


@st.cache_data(ttl=60, show_spinner=False)
def read_json(path: str, mtime: float) -> Any:
    """Parsed JSON (``mtime`` is part of the cache key so a rewritten file is re-read)."""
    return json.loads(Path(path).read_text(encoding="utf-8"))


def markdown_sections(text: str) -> list[tuple[str, str]]:
    """A Markdown document split at its ``## `` headings: (heading, body) in order."""
    sections: list[tuple[str, str]] = []
    title = ""
    body: list[str] = []
    for line in text.splitlines():
        if line.startswith("## "):
            if title or any(b.strip() for b in body):
                sections.append((title, "\n".join(body).strip()))
            title, body = line[3:].strip(), []
        else:
            body.append(line)
    sections.append((title, "\n".join(body).strip()))
    return sections


def split_images(markdown: str, base: Path) -> list[tuple[str, str]]:
    """Markdown -> pieces ``("md", text)`` and ``("img", path)`` so local images can be shown."""
    pieces, start = [], 0
    for match in _IMAGE.finditer(markdown):
        pieces.append(("md", markdown[start:match.start()]))
        target = match.group(2)
        path = (base / target).resolve()
        pieces.append(("img", str(path)) if not target.startswith("http") else ("md", match.group(0)))
        start = match.end()
    pieces.append(("md", markdown[start:]))
    return [(kind, value) for kind, value in pieces if value.strip()]
