"""Which OPC-UA node feeds which (asset, channel), from a TOML map or from browsing a folder.

A map file lists one ``[[node]]`` table per node::

    [[node]]
    node = "nsu=urn:acme:press;s=Press07.Pressure"   # or ns=2;s=..., ns=2;i=1001
    asset = "press-07"
    asset_type = "hydraulic_press"                   # optional (default: opcua.default_asset_type)
    channel = "pressure"
    unit = "bar"                                     # optional
    low = 0.0                                        # optional valid range, both inclusive
    high = 400.0

The node string is the key of everything the connector remembers about a node (its last value
time, its de-duplication), so keep it stable: prefer ``nsu=`` (namespace URI) over ``ns=``.
"""

from __future__ import annotations

import math
import tomllib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from plantpulse.data.core.errors import ConfigError
from plantpulse.data.core.records import AssetSpec, ChannelSpec

_KEYS = {"node", "asset", "asset_type", "channel", "unit", "low", "high", "sample_rate_hz"}


@dataclass(frozen=True, slots=True)
class NodeBinding:
    """One subscribed node and where its values go.

    ``low``/``high`` bound valid values (None = unbounded). ``sample_rate_hz`` marks a waveform
    node whose values are arrays of samples starting at the source timestamp.
    """

    node: str
    asset: str
    channel: str
    asset_type: str = "opcua"
    unit: str = ""
    low: float | None = None
    high: float | None = None
    sample_rate_hz: float | None = None

    def __post_init__(self) -> None:
        AssetSpec(self.asset, self.asset_type)  # validates the names
        ChannelSpec(self.channel, self.unit)
        if self.low is not None and self.high is not None and not self.low <= self.high:
            msg = f"Node {self.node}: low ({self.low}) must not exceed high ({self.high})."
            raise ConfigError(msg)
        if self.sample_rate_hz is not None and not (self.sample_rate_hz > 0 and math.isfinite(self.sample_rate_hz)):
            msg = f"Node {self.node}: sample_rate_hz must be a positive number. Got {self.sample_rate_hz}."
            raise ConfigError(msg)


@dataclass(frozen=True, slots=True)
class NodeMap:
    """All bindings of one connector, in subscription order (index = client handle)."""

    bindings: tuple[NodeBinding, ...]

    def __post_init__(self) -> None:
        seen: dict[str, str] = {}
        targets: dict[tuple[str, str], str] = {}
        for b in self.bindings:
            if b.node in seen:
                msg = f"Node {b.node} is mapped twice; keep one [[node]] entry per node."
                raise ConfigError(msg)
            seen[b.node] = b.asset
            other = targets.setdefault((b.asset, b.channel), b.node)
            if other != b.node:
                msg = (f"Nodes {other} and {b.node} both feed asset {b.asset!r} channel {b.channel!r}; "
                       "give them different channel names.")
                raise ConfigError(msg)

    def __len__(self) -> int:
        return len(self.bindings)

    def assets(self) -> list[AssetSpec]:
        specs: dict[str, AssetSpec] = {}
        for b in self.bindings:
            specs.setdefault(b.asset, AssetSpec(b.asset, b.asset_type))
        return list(specs.values())

    def channels(self) -> list[ChannelSpec]:
        specs: dict[str, ChannelSpec] = {}
        for b in self.bindings:
            specs.setdefault(b.channel, ChannelSpec(b.channel, b.unit))
        return list(specs.values())


def _binding(entry: dict, where: str, default_asset_type: str) -> NodeBinding:
    unknown = sorted(set(entry) - _KEYS)
    if unknown:
        msg = f"{where}: unknown key(s) {unknown}. Allowed: {', '.join(sorted(_KEYS))}."
        raise ConfigError(msg)
    missing = [k for k in ("node", "asset", "channel") if not entry.get(k)]
    if missing:
        msg = f"{where}: missing {', '.join(missing)}. Every [[node]] needs node, asset and channel."
        raise ConfigError(msg)
    try:
        return NodeBinding(
            node=str(entry["node"]), asset=str(entry["asset"]), channel=str(entry["channel"]),
            asset_type=str(entry.get("asset_type", default_asset_type)), unit=str(entry.get("unit", "")),
            low=_number(entry.get("low"), where), high=_number(entry.get("high"), where),
            sample_rate_hz=_number(entry.get("sample_rate_hz"), where),
        )
    except ValueError as err:
        raise ConfigError(f"{where}: {err}") from err


def _number(value: object, where: str) -> float | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float):
        msg = f"{where}: expected a number, got {value!r}."
        raise ConfigError(msg)
    return float(value)


def load_node_map(path: Path, default_asset_type: str = "opcua") -> NodeMap:
    """Read a TOML node map (see the module docstring)."""
    try:
        with path.open("rb") as fh:
            data = tomllib.load(fh)
    except OSError as err:
        msg = f"Cannot read the OPC-UA node map {path}: {err.strerror}. Check opcua.nodes_file."
        raise ConfigError(msg) from err
    except tomllib.TOMLDecodeError as err:
        msg = f"{path}: not valid TOML ({err})."
        raise ConfigError(msg) from err
    entries = data.get("node")
    if not isinstance(entries, list) or not entries:
        msg = f"{path}: no [[node]] tables found. Add one per node (see docs/opcua.md)."
        raise ConfigError(msg)
    return NodeMap(tuple(_binding(e, f"{path} [[node]] #{i + 1}", default_asset_type)
                         for i, e in enumerate(entries)))


def node_map(bindings: Iterable[NodeBinding] | Sequence[NodeBinding]) -> NodeMap:
    return NodeMap(tuple(bindings))
