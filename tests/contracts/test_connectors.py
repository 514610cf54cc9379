"""Every registered file connector gets the same malformed inputs and must answer the same way:
a typed PlantPulse error whose message names the file, or records and reasoned rejections;
never a raw exception, and never silence (nothing read, nothing refused) on a non-empty file.

A new connector is covered by registering it; an input kind without an adapter here fails the
first test, so nobody forgets to add it.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from plantpulse.connectors.images.connector import ImageOptions
from plantpulse.connectors.logs.connector import LogOptions
from plantpulse.connectors.registry import CONNECTORS, connector_names, get_connector
from plantpulse.connectors.sensors.options import SensorOptions
from plantpulse.data.core.errors import PlantPulseError
from plantpulse.data.core.records import Rejection

FILE_KINDS = ("sensors", "logs", "images")


def _read_sensors(name: str, path: Path) -> tuple[int, int]:
    stream = get_connector(name, "sensors")(SensorOptions()).open(path, path.name)
    good = bad = 0
    for chunk in stream:
        good += len(chunk.value)
        bad += len(chunk.rejections)
    return good, bad


def _read_items(options: object) -> Callable[[str, Path], tuple[int, int]]:
    def read(name: str, path: Path) -> tuple[int, int]:
        kind = CONNECTORS.get(name).kind
        items = list(get_connector(name, kind)(options).read(path, path.name))
        bad = sum(isinstance(i, Rejection) for i in items)
        return len(items) - bad, bad
    return read


READERS: dict[str, Callable[[str, Path], tuple[int, int]]] = {
    "sensors": _read_sensors,
    "logs": _read_items(LogOptions()),
    "images": _read_items(ImageOptions()),
}

MALFORMED: dict[str, bytes] = {
    "empty": b"",
    "binary": bytes(range(256)) * 8,
    "invalid-utf8": b"asset,timestamp,value\n\xff\xfe\xfa,2024-01-01T00:00:00Z,1\n",
    "header-only": b"asset,timestamp,value\n",
    "nul-bytes": b"asset,timestamp,value\nm-1\x00,2024-01-01T00:00:00Z,1\x00\n",
    "ragged": b"asset,timestamp,value\nm-1,2024-01-01T00:00:00Z\nm-2,2024-01-01T00:00:00Z,1,2,3\n",
}


def _file_connectors() -> list[str]:
    return [n for n in connector_names() if CONNECTORS.get(n).kind in FILE_KINDS]


def test_every_file_connector_has_a_reader_here() -> None:
    kinds = {CONNECTORS.get(n).kind for n in _file_connectors()}
    assert kinds <= set(READERS), f"add a reader for {sorted(kinds - set(READERS))}"
    assert len(_file_connectors()) >= 4


@pytest.mark.parametrize("case", sorted(MALFORMED))
@pytest.mark.parametrize("name", _file_connectors())
def test_malformed_input_is_refused_clearly_or_quarantined(tmp_path: Path, name: str, case: str) -> None:
    suffix = (CONNECTORS.get(name).suffixes or (".csv",))[0] if CONNECTORS.get(name).kind == "sensors" else (
        ".csv" if CONNECTORS.get(name).kind == "logs" else ".zip")
    path = tmp_path / f"input-{case}{suffix}"
    path.write_bytes(MALFORMED[case])
    try:
        good, bad = READERS[CONNECTORS.get(name).kind](name, path)
    except PlantPulseError as err:
        assert path.name in str(err) or str(path) in str(err), f"message does not name the file: {err}"
        return
    if MALFORMED[case] and case != "header-only":
        assert good + bad > 0, f"{name} read nothing and refused nothing from a non-empty {case} file"


@pytest.mark.parametrize("name", _file_connectors())
def test_a_missing_file_is_a_clear_error(tmp_path: Path, name: str) -> None:
    path = tmp_path / "missing.csv"
    with pytest.raises(PlantPulseError, match="missing"):
        READERS[CONNECTORS.get(name).kind](name, path)
