"""Event-code labels when a failure record names only the failed component (Azure PdM's failure
log: ``datetime,machineID,comp4``): the component is the class, as the log features name it."""

from __future__ import annotations

import numpy as np

from plantpulse.model.log_features import event_code
from plantpulse.pipelines.fit.labels import Event, event_codes
from plantpulse.pipelines.fit.spec import FitSpec
from plantpulse.pipelines.fit.windows import AssetWindows

HOUR = 3600.0


def _windows(ends_h: list[float]) -> AssetWindows:
    ends = np.asarray(ends_h) * HOUR
    return AssetWindows(asset="m1", channels=("volt",), windows=np.zeros((len(ends), 4, 1), np.float32), ends=ends,
                        first=0.0, last=float(ends[-1]), extra={}, grid=np.zeros((1, 1)), grid_ends=np.zeros(1))


def test_the_code_wins_and_the_component_stands_in_for_a_missing_one() -> None:
    assert event_code("E7", "bearing") == "E7"
    assert event_code(None, " comp4 ") == "comp4"
    assert event_code("", "main  bearing") == "main bearing"
    assert event_code(None, None) is None and event_code(" ", "") is None


def test_failures_named_by_component_become_classes_within_the_horizon() -> None:
    spec = FitSpec(asset_type="machine", target="class", event_codes=True, failure_kind="failure", horizon_hours=24)
    events = [Event(30 * HOUR, "failure", event_code(None, "comp4")),
              Event(20 * HOUR, "error", event_code("error1", None)),  # not a failure: never a class
              Event(80 * HOUR, "maintenance", event_code(None, "comp2"))]
    labels = event_codes(spec, _windows([0, 6, 12, 29, 30, 40]), events)
    # 30 h after 0 h is beyond the horizon; the failure at 30 h is the past for the window ending at 30 h
    assert labels.targets.tolist() == ["normal", "comp4", "comp4", "comp4", "normal", "normal"]
