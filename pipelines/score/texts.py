"""The maintenance-log text a text-reading model sees beside a sensor window.

Training (``pipelines/train/tasks/azure.py``) and scoring both describe a window's recent log
events with :func:`event_phrase`, oldest first, e.g. ``"error error3 14h ago. maint comp2 6d ago."``,
so the model reads at scoring time the kind of text it was trained on. Scoring takes each
asset's last :attr:`LogText.events` events in the :attr:`LogText.lookback_days` before the end of
the window it scores (never later: see :func:`plantpulse.data.store.repository.maintenance_before`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from plantpulse.data.core.records import MaintenanceRecord
from plantpulse.model.log_features import LABEL_KINDS

#: Words the model was trained with for the store's event kinds.
KIND_WORDS = {"maintenance": "maint"}
#: Kinds left out of the text: failures are what the models predict (labels, not inputs); in the
#: Azure training data every failure also coincides with a maintenance row of the same component.
SKIPPED_KINDS = LABEL_KINDS


@dataclass(frozen=True, slots=True)
class LogText:
    """How much of the log a scoring run gives a text-reading model (``events`` 0: none)."""

    events: int = 20
    lookback_days: float = 7.0

    @property
    def lookback(self) -> timedelta:
        return timedelta(days=self.lookback_days)


def ago(hours: int) -> str:
    """``14h ago`` below two days, else whole days: ``6d ago``."""
    return f"{hours}h ago" if hours < 48 else f"{hours // 24}d ago"


def event_phrase(word: str, subject: str, hours: int) -> str:
    """One event as the model reads it: ``"error error3 14h ago."``."""
    return f"{word} {subject} {ago(hours)}."


def log_text(events: Sequence[MaintenanceRecord], end: datetime) -> str | None:
    """The phrases of ``events`` (oldest first, all at or before ``end``); None when there are none
    (the text modality is then masked, as in training)."""
    phrases = []
    for e in events:
        subject = " ".join((e.code or e.component or e.text or "").split())
        if e.kind in SKIPPED_KINDS or not subject or e.ts is None:
            continue
        hours = int((end - e.ts).total_seconds() // 3600)
        phrases.append(event_phrase(KIND_WORDS.get(e.kind, e.kind), subject, hours))
    return " ".join(phrases) or None
