"""Scoring, the compute half: which assets need scoring, and their latest windows -> predictions.

Incremental: an asset is scored when its newest reading is newer than the end of the newest
window the chosen model version has already scored for it. Reads only; the writing half (one
transaction for predictions and alerts) is :mod:`plantpulse.pipelines.score.job`. The same
:func:`score_assets` runs in-process or inside Ray workers.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import numpy as np
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from plantpulse.data.core.errors import ConfigError, InputDataError
from plantpulse.data.core.records import Prediction, PredictionRow, SensorWindow
from plantpulse.data.core.times import from_micros
from plantpulse.data.store.db import Database
from plantpulse.data.store.repository import (
    current_model_version,
    last_reading_times,
    latest_windows,
    maintenance_before,
)
from plantpulse.data.store.schema import Asset, ModelVersion
from plantpulse.data.store.schema import Prediction as StoredPrediction
from plantpulse.model.log_features import LogFeatures
from plantpulse.model.predictor import Predictor, load_predictor
from plantpulse.pipelines.models.registry import predictor_kind
from plantpulse.pipelines.score.texts import LogText, log_text

log = logging.getLogger(__name__)



@dataclass(frozen=True, slots=True)
class ModelRef:
    """The model version a scoring run uses."""

    version_id: int
    name: str
    version: int
    kind: str  # the PREDICTORS entry that loads it
    path: str

    @property
    def label(self) -> str:
        return f"{self.name} v{self.version}"


@dataclass(frozen=True, slots=True)
class Candidate:
    asset_id: int
    name: str
    asset_type: str


@dataclass(frozen=True, slots=True)
class Scores:
    """What scoring a set of assets produced: predictions, and the assets it had to skip (why)."""

    rows: tuple[PredictionRow, ...]
    skipped: tuple[tuple[str, str], ...]


def resolve_model(session: Session, name: str) -> ModelRef:
    """The production version of ``name`` (else its newest), or a clear error."""
    version = current_model_version(session, name)
    if version is None:
        known = sorted(set(session.scalars(select(ModelVersion.name))))
        msg = (f"No model named {name!r} is registered. Registered: {', '.join(known) or 'none'}. Train one "
               "(`plantpulse train`, `plantpulse demo`) or choose another with --model / scoring.model.")
        raise ConfigError(msg)
    return ref_of(version)


def ref_of(version: ModelVersion) -> ModelRef:
    return ModelRef(version.id, version.name, version.version, predictor_kind(version.kind), version.path)


_LOADED: dict[tuple[int, str, str, float], Predictor] = {}
_KEEP = 8  # loaded predictors kept for the next run: one per asset type's model, within reason


def load_model(ref: ModelRef) -> Predictor:
    """The predictor of ``ref``; the last few loaded are kept for the next run (scheduler)."""
    path = Path(ref.path)
    if not path.is_file():
        msg = f"Model {ref.label}: checkpoint {ref.path} does not exist. Re-train it or register the right path."
        raise ConfigError(msg)
    key = (ref.version_id, ref.kind, str(path.resolve()), path.stat().st_mtime)
    if key not in _LOADED:
        for old in [k for k in _LOADED if k[0] == ref.version_id]:  # this version's file changed
            del _LOADED[old]
        while len(_LOADED) >= _KEEP:  # the oldest loaded goes first
            del _LOADED[next(iter(_LOADED))]
        _LOADED[key] = load_predictor(ref.kind, path)
    return _LOADED[key]


def candidates(session: Session, ref: ModelRef, asset_types: Sequence[str] | None,
               only: Sequence[str] | None = None, force: bool = False) -> list[Candidate]:
    """Assets of the predictor's types whose newest reading is newer than their last scored window."""
    last = last_reading_times(session)
    done: dict[int, datetime] = dict(session.execute(
        select(StoredPrediction.asset_id, func.max(StoredPrediction.window_end))
        .where(StoredPrediction.model_version_id == ref.version_id).group_by(StoredPrediction.asset_id)).all())
    query = select(Asset.id, Asset.name, Asset.asset_type).order_by(Asset.id)
    if asset_types:
        query = query.where(Asset.asset_type.in_(list(asset_types)))
    if only:
        query = query.where(Asset.name.in_(list(only)))
    out = []
    for asset_id, name, asset_type in session.execute(query):
        newest = last.get(asset_id)
        if newest is not None and (force or asset_id not in done or newest > done[asset_id]):
            out.append(Candidate(asset_id, name, asset_type))
    return out


def window_end(window: SensorWindow) -> datetime:
    """The (UTC) time of the window's last row."""
    return from_micros(int(np.asarray(window.end).astype("datetime64[us]").astype(np.int64)))


def _row(ref: ModelRef, window: SensorWindow, p: Prediction) -> PredictionRow:
    return PredictionRow(asset_id=window.asset_id, window_end=window_end(window), model_version_id=ref.version_id,
                         prediction=p)


def recent_texts(session: Session, windows: Sequence[SensorWindow], logs: LogText) -> list[str | None]:
    """Per window, its asset's recent maintenance-log text up to the window's end (None: no events)."""
    ends = {w.asset_id: window_end(w) for w in windows}
    events = maintenance_before(session, ends, logs.lookback, logs.events)
    return [log_text(events.get(w.asset_id, []), ends[w.asset_id]) for w in windows]


#: Events read per asset for the log features: enough for years of a busy log.
LOG_FEATURE_EVENTS = 100_000


def recent_log_features(session: Session, windows: Sequence[SensorWindow], spec: LogFeatures) -> np.ndarray:
    """(B, F) raw log features of each window's asset at the window's end, from events at or before
    it (as ``plantpulse fit`` computed them for training)."""
    ends = {w.asset_id: window_end(w) for w in windows}
    events = maintenance_before(session, ends, spec.lookback, LOG_FEATURE_EVENTS)
    rows = [spec.raw(events.get(w.asset_id, []), np.array([ends[w.asset_id].timestamp()]))[0] for w in windows]
    return np.stack(rows) if rows else np.zeros((0, len(spec.names)))


def _predict(model: Predictor, windows: list[SensorWindow], texts: list[str | None] | None,
             features: np.ndarray | None = None) -> tuple[list[tuple[SensorWindow, Prediction]], list[tuple[str, str]]]:
    """Predict a batch; when the batch is refused, retry window by window to isolate the bad ones."""
    try:
        return list(zip(windows, model.predict(windows, texts, features), strict=True)), []
    except InputDataError:
        if len(windows) == 1:
            raise
    done, skipped = [], []
    for i, w in enumerate(windows):
        try:
            done += _predict(model, [w], None if texts is None else [texts[i]],
                             None if features is None else features[i : i + 1])[0]
        except InputDataError as err:
            skipped.append((w.asset_name, str(err)))
    return done, skipped


def score_assets(db: Database, predictor: Predictor, ref: ModelRef, assets: Sequence[Candidate],
                 batch_size: int, logs: LogText | None = None) -> Scores:
    """Latest window of each asset -> predictions, ``batch_size`` windows per predict call.

    A predictor that reads text gets each asset's recent maintenance log (see :mod:`.texts`), and
    one fit on log features gets them computed from the store (:func:`recent_log_features`).
    """
    logs = logs or LogText()
    rows: list[PredictionRow] = []
    skipped: list[tuple[str, str]] = []
    for asset_type in sorted({a.asset_type for a in assets}):
        model = predictor.for_asset_type(asset_type)
        group = [a for a in assets if a.asset_type == asset_type]
        for start in range(0, len(group), batch_size):
            chunk = group[start : start + batch_size]
            with db.session() as session:
                found = latest_windows(session, [a.asset_id for a in chunk], model.window_length,
                                       model.channels or None)
                windows = [found[a.asset_id] for a in chunk if a.asset_id in found]
                empty = [w.asset_name for w in windows if len(w) == 0]
                windows = [w for w in windows if len(w)]
                texts = recent_texts(session, windows, logs) if model.accepts_text and logs.events else None
                spec = model.log_features
                features = recent_log_features(session, windows, spec) if spec is not None else None
            skipped += [(name, "no readings of the model's channels") for name in empty]
            done, bad = _predict(model, windows, texts, features)
            rows += [_row(ref, w, p) for w, p in done]
            skipped += bad
    return Scores(tuple(rows), tuple(skipped))
