"""A file as it will be read, before anything is stored: its first rows, parsed, and what was refused.

The dashboard shows this under an upload so an engineer can check the column mapping, the asset
and the time before committing; the same connectors and options as the ingest run are used, so
what the preview shows is what the ingest will store (for the first rows of the file).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from plantpulse.connectors.logs.connector import LogConnector, LogOptions
from plantpulse.connectors.registry import connector_for_file, get_connector
from plantpulse.connectors.sensors.options import SensorOptions
from plantpulse.data.core.records import MaintenanceRecord, Rejection, SensorChunk

REFUSED_COLUMNS = ["line", "column", "code", "reason"]


@dataclass(frozen=True, slots=True)
class Preview:
    """``rows``: the first rows as parsed (sensors: line, asset, time and one column per channel;
    logs: the event fields); ``refused``: line, column, code, reason of rows refused among them;
    ``facts``: how the file was understood (connector, layout, time column, notes)."""

    rows: pd.DataFrame
    refused: pd.DataFrame
    facts: dict[str, str]


def _refused(rejections: list[Rejection]) -> pd.DataFrame:
    return pd.DataFrame([(r.line, r.column or "", r.code or "", r.reason) for r in rejections],
                        columns=REFUSED_COLUMNS)


def _first_chunks(chunks: Iterator[SensorChunk], rows: int) -> list[SensorChunk]:
    taken: list[SensorChunk] = []
    try:
        for chunk in chunks:
            taken.append(chunk)
            if sum(c.rows for c in taken) >= rows:
                break
    finally:
        close = getattr(chunks, "close", None)
        if close is not None:
            close()  # stops the reader and removes an unpacked copy
    return taken


def _sensor_frame(chunks: list[SensorChunk], rows: int) -> pd.DataFrame:
    parts = [pd.DataFrame({
        "line": c.line, "asset": [c.assets[i] for i in c.asset.tolist()],
        "time": pd.to_datetime(c.ts_us, unit="us", utc=True),
        "channel": [f"{c.channels[i].name} [{c.channels[i].unit}]" if c.channels[i].unit else c.channels[i].name
                    for i in c.channel.tolist()],
        "value": c.value}) for c in chunks]
    long = pd.concat(parts, ignore_index=True) if parts else pd.DataFrame(
        columns=["line", "asset", "time", "channel", "value"])
    if long.empty:
        return pd.DataFrame(columns=["line", "asset", "time"])
    order = list(dict.fromkeys(long["channel"]))
    wide = long.pivot_table(index=["line", "asset", "time"], columns="channel", values="value", aggfunc="first")
    wide = wide.reindex(columns=order).reset_index().sort_values(["line", "asset"], kind="stable")
    wide.columns.name = None
    return wide.head(rows).reset_index(drop=True)


def preview_sensor_file(path: str | Path, *, options: SensorOptions | None = None, connector: str = "auto",
                        source: str | None = None, rows: int = 20) -> Preview:
    """The first ``rows`` rows of a sensor file as the ingest would read them (nothing is stored).

    Raises the same errors as the ingest for a file that cannot be read (no header, no time
    column, a binary file, ...)."""
    path = Path(path)
    source = source or path.name
    name = connector_for_file(source, "sensors", connector)
    options = dataclasses.replace(options or SensorOptions(), chunk_rows=max(1, rows))
    stream = get_connector(name, "sensors")(options).open(path, source)
    chunks = _first_chunks(stream.chunks, rows)
    rejections = [r for c in chunks for r in c.rejections][:rows]
    info = stream.info
    facts = {"connector": name, "layout": info.layout, "time column": info.time_column or "(from --epoch)",
             "asset column": info.asset_column or "(one asset for the file)",
             "channels": ", ".join(c.name for c in info.channels)}
    if info.notes:
        facts["notes"] = "; ".join(info.notes)
    return Preview(_sensor_frame(chunks, rows), _refused(rejections), facts)


_EVENT_COLUMNS = ["line", "ts", "asset", "kind", "code", "component", "text", "action", "external_id"]


def preview_log_file(path: str | Path, *, options: LogOptions | None = None, source: str | None = None,
                     rows: int = 20) -> Preview:
    """The first ``rows`` records of a maintenance-log export as the ingest would read them."""
    path = Path(path)
    source = source or path.name
    reader: LogConnector = get_connector("logs", kind="logs")(options or LogOptions())
    records: list[MaintenanceRecord] = []
    rejections: list[Rejection] = []
    items = reader.read(path, source)
    try:
        for item in items:
            (rejections if isinstance(item, Rejection) else records).append(item)
            if len(records) + len(rejections) >= rows:
                break
    finally:
        items.close()
    frame = pd.DataFrame([(r.line, r.ts, r.asset, r.kind, r.code, r.component, r.text, r.action, r.external_id)
                          for r in records], columns=_EVENT_COLUMNS)
    preset = reader.preset(path)
    return Preview(frame, _refused(rejections), {"format": preset.name, "source": reader.options.source or preset.source})
