"""The training spec of ``plantpulse fit``: one asset type, one target, one label source.

Read from a TOML file (``--spec``) whose keys are the fields below; CLI options override the file.
Unknown keys are rejected so a typo fails instead of being ignored.
"""

from __future__ import annotations

import json
import math
import re
import tomllib
from datetime import datetime
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from plantpulse.data.core.errors import ConfigError

_THRESHOLD = re.compile(r"^\s*(?P<channel>[^<>=\s]+)\s*(?P<op><=|>=)\s*(?P<value>[-+0-9.eE]+)\s*$")


class FitSpec(BaseModel):
    """What ``plantpulse fit`` trains. Exactly one label source per target:

    - ``rul``: ``failure_kind``/``failure_code`` (maintenance-log events), ``threshold``
      ("channel >= X" or "channel <= X"), or ``end_times`` (CSV ``asset,end_time``);
    - ``class``: ``label_column`` (a channel holding class numbers), ``label_file`` (CSV
      ``asset,class`` or ``asset,start,end,class``), or ``event_codes`` (the code of the next coded
      event within ``horizon_hours`` of a window's end, else ``normal_class``; ``failure_kind``
      limits it to events of that kind, e.g. failures in a log that also holds error codes);
    - ``anomaly``: ``normal_fraction`` (first share of each asset's life) or ``normal_start``/``normal_end``.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    asset_type: str = Field(..., pattern=r"^[a-z0-9_]+$")
    target: Literal["rul", "class", "anomaly"]
    channels: tuple[str, ...] = ()
    # RUL
    failure_kind: str | None = None
    failure_code: str | None = None
    threshold: str | None = None
    end_times: Path | None = None
    rul_unit: Literal["auto", "cycles", "hours", "seconds"] = "auto"
    rul_cap: float | None = Field(None, gt=0)
    # class
    label_column: str | None = None
    label_file: Path | None = None
    event_codes: bool = False
    codes: tuple[str, ...] = ()
    horizon_hours: float = Field(24.0, gt=0)
    normal_class: str = "normal"
    # anomaly
    normal_fraction: float | None = Field(None, gt=0, lt=1)
    normal_start: datetime | None = None
    normal_end: datetime | None = None
    # windows and training
    step_seconds: float | None = Field(None, gt=0, description="grid step; default: median spacing")
    max_gap_steps: int = Field(3, ge=0, description="gaps up to this many steps are forward-filled")
    snapshots: bool = Field(False, description="high-rate data stored as bursts: one burst is one window "
                            "(its first 'window' samples), with spectral features; no grid")
    snapshot_gap_seconds: float | None = Field(None, gt=0, description="a pause longer than this starts a "
                                               "new burst (default: 10 x the median sample spacing)")
    window: int = Field(16, ge=4)
    stride: int = Field(4, ge=1)
    holdout: float = Field(0.3, gt=0, lt=1, description="share of assets held out for the test")
    seed: int = 0
    preset: str = "tiny"
    backbone: str | None = Field(None, description="'shipped' or a MoE .safetensors file: its backbone is "
                                 "frozen and only a new adapter + head is trained (default: train the "
                                 "preset from scratch)")
    unfreeze: bool = Field(False, description="with backbone: fine-tune the backbone too")
    epochs: int = Field(20, ge=1, description="MoE epochs at most; early stopping after 3 without a better "
                        "validation score")
    steps: int | None = Field(None, ge=1)
    batch_size: int = Field(32, ge=2)
    gbm_rounds: int = Field(200, ge=10)
    # the maintenance log beside each window (the network reads it as text, as scoring gives it)
    log_events: int = Field(20, ge=0, description="the asset's last N maintenance-log events before a "
                            "window's end that the network reads as text (0: windows only)")
    log_lookback_days: float = Field(7.0, gt=0, description="how far back those events may lie")
    log_features: bool = Field(True, description="structured log features (per event code or component: "
                               "counts in the last 24 h and 7 d, hours since the last one) as inputs of every "
                               "learner; scoring computes them the same way")
    feature_path: int = Field(0, ge=0, le=1024, description="a network trained from scratch also reads the "
                              "log features through an MLP of this width added before its head, beside "
                              "their tokens (0: tokens only; on the Azure machines split by machine it "
                              "lowered held-out macro-F1, docs/own-data.md)")

    @model_validator(mode="after")
    def _one_source(self) -> FitSpec:
        sources = {
            "rul": {"failure_kind/failure_code": bool(self.failure_kind or self.failure_code),
                    "threshold": self.threshold is not None, "end_times": self.end_times is not None},
            "class": {"label_column": self.label_column is not None, "label_file": self.label_file is not None,
                      "event_codes": self.event_codes},
            "anomaly": {"normal_fraction": self.normal_fraction is not None,
                        "normal_start/normal_end": self.normal_start is not None or self.normal_end is not None},
        }[self.target]
        if self.target != "rul" and self.failure_code is not None:
            raise ValueError(f"failure_code is a label source of target 'rul', not {self.target!r}.")
        if self.target != "rul" and self.failure_kind is not None and not self.event_codes:
            raise ValueError("failure_kind outside target 'rul' needs target 'class' with event_codes (it picks the "
                             "kind of the coded events whose codes are the classes).")
        chosen = [name for name, on in sources.items() if on]
        if len(chosen) != 1:
            msg = (f"target {self.target!r} needs exactly one label source: one of {', '.join(sources)}. "
                   f"Got {chosen or 'none'}.")
            raise ValueError(msg)
        if self.threshold is not None:
            threshold_rule(self.threshold)
        return self

    @property
    def source(self) -> str:
        rul = self.target == "rul"  # failure_kind also narrows event_codes for a class target
        for name, on in (("failure_events", rul and bool(self.failure_kind or self.failure_code)),
                         ("threshold", self.threshold is not None), ("end_times", self.end_times is not None),
                         ("label_column", self.label_column is not None),
                         ("label_file", self.label_file is not None), ("event_codes", self.event_codes),
                         ("normal_fraction", self.normal_fraction is not None)):
            if on:
                return name
        return "normal_dates"


def threshold_rule(text: str) -> tuple[str, str, float]:
    """``"pressure >= 5.5"`` -> ("pressure", ">=", 5.5)."""
    match = _THRESHOLD.match(text)
    if match is None:
        msg = f"threshold {text!r} must look like 'channel >= 5.5' or 'channel <= 0.2'."
        raise ValueError(msg)
    try:
        value = float(match["value"])
    except ValueError as err:
        raise ValueError(f"threshold {text!r}: {match['value']!r} is not a number.") from err
    return match["channel"], match["op"], value


def load_spec(path: Path | None, overrides: dict[str, Any]) -> FitSpec:
    """The spec of TOML file ``path`` (optional) with ``overrides`` (CLI options; None = not given)."""
    fields: dict[str, Any] = {}
    if path is not None:
        try:
            fields = tomllib.loads(Path(path).read_text(encoding="utf-8"))
        except (OSError, tomllib.TOMLDecodeError) as err:
            raise ConfigError(f"Cannot read the training spec {path}: {err}. Fix the TOML file.") from err
        base = Path(path).parent
        for key in ("end_times", "label_file"):
            if isinstance(fields.get(key), str) and not Path(fields[key]).is_absolute():
                fields[key] = str(base / fields[key])
    fields |= {k: v for k, v in overrides.items() if v is not None and v != ()}
    try:
        return FitSpec(**fields)
    except ValidationError as err:
        where = f" in {path}" if path else ""
        raise ConfigError(f"Invalid training spec{where}: {err}") from err


def _toml_value(key: str, value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if not math.isfinite(value):
            raise ConfigError(f"{key} = {value} cannot be written to a training spec; give a finite number.")
        return repr(value)
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, (tuple, list)):
        return "[" + ", ".join(_toml_value(key, v) for v in value) + "]"
    return json.dumps(str(value), ensure_ascii=False)  # a JSON string is a valid TOML basic string


def spec_toml(spec: FitSpec) -> str:
    """``spec`` as the TOML file :func:`load_spec` reads back to an equal spec (fields left at their
    default are not written; relative ``end_times``/``label_file`` stay relative to the file)."""
    fields = spec.model_dump(exclude_defaults=True)
    lines = ["# plantpulse fit --spec THIS_FILE (keys: the options of `plantpulse fit`)"]
    lines += [f"{key} = {_toml_value(key, value)}" for key, value in fields.items()]
    return "\n".join(lines) + "\n"
