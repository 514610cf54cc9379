"""Structured features of an asset's maintenance log at a time t, from the events up to t only.

Per *subject*, an event kind with its code or component (``error E3``, ``maintenance comp2``)
seen in the training assets' logs: how many of its events fell in each span before t (24 h and
7 days by default) and the hours since its last one (capped at :data:`MAX_HOURS`, also when there
is none). The design's "structured data" modality: ``plantpulse fit`` gives them to the MoE as
feature tokens (one token each) and to the window baselines as extra columns, and scoring computes
them the same way from the store before each window it scores. The subjects and the training
standardisation travel in the model file (:meth:`LogFeatures.to_dict`), as plain names and numbers.

Failures are labels, never inputs, as in the log text
(:data:`plantpulse.pipelines.score.texts.SKIPPED_KINDS`); an event without a code or component
(free text only) is left to the text modality.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import numpy as np

from plantpulse.data.core.errors import CheckpointError, InputDataError
from plantpulse.data.core.records import MaintenanceRecord

#: Spans (hours) over which events of each subject are counted.
SPANS_HOURS: tuple[float, ...] = (24.0, 168.0)
#: "Hours since" is capped here (about seven months), and is this when a subject never occurred.
MAX_HOURS = 5000.0
#: Kinds that are labels, not inputs.
LABEL_KINDS = frozenset({"failure"})
#: At most this many subjects (the most frequent in training), so a free-form code column cannot
#: blow the feature count up.
MAX_SUBJECTS = 32


def counts_within(times: np.ndarray, ends: np.ndarray, span_s: float) -> np.ndarray:
    """(N,) how many of the sorted event ``times`` fall in (end - span_s, end] for each of ``ends``
    (seconds on one clock): an event at the end counts, one after it is the future."""
    return np.searchsorted(times, ends, side="right") - np.searchsorted(times, ends - span_s, side="right")


def hours_since_last(times: np.ndarray, ends: np.ndarray, cap_hours: float) -> np.ndarray:
    """(N,) hours from the last of the sorted event ``times`` at or before each of ``ends``
    (seconds), capped at ``cap_hours``, which is also the value when there is none."""
    upto = np.searchsorted(times, ends, side="right")
    since = np.full(len(ends), cap_hours, dtype=np.float64)
    seen = upto > 0
    since[seen] = np.minimum((ends[seen] - times[upto[seen] - 1]) / 3600.0, cap_hours)
    return since


def event_code(code: str | None, component: str | None) -> str | None:
    """What names an event: its code, or, when it has none, the component it names (a failure
    record that gives only the failed part, as Azure PdM's failure log does); whitespace
    collapsed. The log features and the event-code labels of ``plantpulse fit`` both use it."""
    return " ".join((code or component or "").split()) or None


def subject(event: MaintenanceRecord) -> str | None:
    """``"<kind> <code or component>"``, or None when the event is not a feature input."""
    what = event_code(event.code, event.component)
    if event.kind in LABEL_KINDS or not what or event.ts is None:
        return None
    return f"{event.kind} {what}"


@dataclass(frozen=True)
class LogFeatures:
    """How to turn one asset's log into (N, F) features at N times; ``mean``/``std`` (F,) the
    training standardisation (empty until :meth:`fitted`)."""

    subjects: tuple[str, ...]
    spans_hours: tuple[float, ...] = SPANS_HOURS
    max_hours: float = MAX_HOURS
    mean: tuple[float, ...] = ()
    std: tuple[float, ...] = ()

    @property
    def names(self) -> tuple[str, ...]:
        """Feature names, span-major counts then hours since: ``"error E3 count 24h"``,
        ``"hours since maintenance comp2"``."""
        counts = [f"{s} count {h:g}h" for h in self.spans_hours for s in self.subjects]
        return (*counts, *(f"hours since {s}" for s in self.subjects))

    @property
    def lookback(self) -> timedelta:
        """How far back before a window's end the events that matter can lie."""
        return timedelta(hours=max(self.max_hours, *self.spans_hours))

    @classmethod
    def learn(cls, logs: Iterable[Sequence[MaintenanceRecord]], max_subjects: int = MAX_SUBJECTS,
              min_events: int = 2) -> LogFeatures | None:
        """The subjects of the training assets' ``logs`` with at least ``min_events`` events, the
        ``max_subjects`` most frequent (ties by name); None when there are none."""
        counts = Counter(s for log in logs for s in map(subject, log) if s is not None)
        ranked = sorted((s for s, n in counts.items() if n >= min_events), key=lambda s: (-counts[s], s))
        chosen = tuple(sorted(ranked[:max_subjects]))
        return cls(chosen) if chosen else None

    def raw(self, events: Sequence[MaintenanceRecord], ends: np.ndarray) -> np.ndarray:
        """(N, F) float64 features of one asset's ``events`` at ``ends`` (N,) seconds since the
        epoch: only events at or before each end count (an event after it is the future)."""
        ends = np.asarray(ends, dtype=float)
        times: dict[str, list[float]] = {s: [] for s in self.subjects}
        for e in events:
            s = subject(e)
            if s in times and e.ts is not None:
                times[s].append(e.ts.timestamp())
        n, k = len(ends), len(self.subjects)
        out = np.empty((n, k * (len(self.spans_hours) + 1)), dtype=np.float64)
        for j, s in enumerate(self.subjects):
            t = np.sort(np.asarray(times[s], dtype=float))
            for i, hours in enumerate(self.spans_hours):
                out[:, i * k + j] = counts_within(t, ends, hours * 3600.0)
            out[:, len(self.spans_hours) * k + j] = hours_since_last(t, ends, self.max_hours)
        return out

    def fitted(self, table: np.ndarray) -> LogFeatures:
        """This spec with the standardisation of the training rows ``table`` (M, F)."""
        mean = table.mean(axis=0) if len(table) else np.zeros(table.shape[1])
        std = table.std(axis=0) if len(table) else np.ones(table.shape[1])
        std = np.where(std > 1e-8, std, 1.0)
        return LogFeatures(self.subjects, self.spans_hours, self.max_hours,
                           tuple(float(v) for v in mean), tuple(float(v) for v in std))

    def standardise(self, table: np.ndarray) -> np.ndarray:
        """(N, F) raw features -> standardised float32 (as in training)."""
        if not self.mean:
            raise CheckpointError("log features have no training standardisation; call fitted() first.")
        return ((table - np.asarray(self.mean)) / np.asarray(self.std)).astype(np.float32)

    def model_inputs(self, features: np.ndarray | None, rows: int, model: str) -> np.ndarray:
        """The standardised (rows, F) inputs of the raw ``features`` a predictor of ``model`` was
        handed; an ``InputDataError`` when they are missing, misshapen or not finite."""
        names = self.names
        table = None if features is None else np.asarray(features, dtype=np.float64)
        if table is None or table.shape != (rows, len(names)) or not np.isfinite(table).all():
            msg = (f"Model {model} was fit on {len(names)} maintenance-log features ({', '.join(names[:3])}, ...); "
                   f"pass them as features= of shape ({rows}, {len(names)}), finite (plantpulse score computes "
                   f"them from the store); got {None if table is None else table.shape}.")
            raise InputDataError(msg)
        return self.standardise(table)

    def to_dict(self) -> dict[str, Any]:
        return {"subjects": list(self.subjects), "spans_hours": list(self.spans_hours),
                "max_hours": self.max_hours, "mean": list(self.mean), "std": list(self.std)}

    @classmethod
    def from_dict(cls, value: Any, where: str) -> LogFeatures:
        """Read what :meth:`to_dict` wrote, from an untrusted model file: names and finite numbers
        only, consistent lengths; a ``CheckpointError`` naming ``where`` otherwise."""
        def fail(what: str) -> CheckpointError:
            return CheckpointError(f"{where}: log features {what}. Re-create the model with plantpulse fit.")

        if not isinstance(value, Mapping):
            raise fail("are not a mapping")
        subjects = value.get("subjects")
        if not isinstance(subjects, list) or not subjects or not all(isinstance(s, str) for s in subjects):
            raise fail("have no list of subject names")
        numbers: dict[str, tuple[float, ...]] = {}
        for key in ("spans_hours", "mean", "std"):
            got = value.get(key)
            if not isinstance(got, list) or not all(isinstance(v, (int, float)) and math.isfinite(v) for v in got):
                raise fail(f"hold a non-numeric {key}")
            numbers[key] = tuple(float(v) for v in got)
        cap = value.get("max_hours")
        if not isinstance(cap, (int, float)) or not math.isfinite(cap) or cap <= 0:
            raise fail("hold no positive max_hours")
        spec = cls(tuple(subjects), numbers["spans_hours"], float(cap), numbers["mean"], numbers["std"])
        if len(spec.mean) != len(spec.names) or len(spec.std) != len(spec.names) or min(spec.std, default=1) <= 0:
            raise fail(f"need {len(spec.names)} means and positive deviations")
        return spec
