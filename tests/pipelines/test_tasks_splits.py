"""Split helpers and per-dataset sample builders on small synthetic inputs (fast)."""

from __future__ import annotations

import numpy as np
import pytest

from plantpulse.data.core.errors import InputDataError
from plantpulse.data.datasets.azure_pdm import EventLog
from plantpulse.data.datasets.cmapss import RunSet
from plantpulse.model.moe.config import TaskSpec
from plantpulse.model.moe.training import TaskData, TaskSplits
from plantpulse.pipelines.train.tasks import BUNDLES, ai4i, azure, cmapss, cwru, maintnet, weld
from plantpulse.pipelines.train.tasks.base import TaskBundle
from plantpulse.pipelines.train.tasks.splits import (
    Standardizer,
    assert_disjoint,
    hold_out_validation,
    split_groups,
    time_split,
)
from plantpulse.pipelines.train.tasks.windows import WindowView, window_starts


def test_every_group_lands_in_exactly_one_split(rng):
    groups = rng.integers(0, 50, 1000)
    masks = split_groups(groups, (0.7, 0.15, 0.15), seed=3)
    assert np.all(np.sum(masks, axis=0) == 1)
    assert_disjoint({f"s{k}": np.unique(groups[m]) for k, m in enumerate(masks)})
    sizes = [len(np.unique(groups[m])) for m in masks]
    assert sizes[0] == pytest.approx(0.7 * 50, abs=2)


def test_split_is_reproducible_and_seed_dependent(rng):
    groups = np.repeat(np.arange(40), 5)
    a = split_groups(groups, (0.5, 0.5), seed=1)
    assert all(np.array_equal(x, y) for x, y in zip(a, split_groups(groups, (0.5, 0.5), seed=1), strict=True))
    assert not np.array_equal(a[0], split_groups(groups, (0.5, 0.5), seed=2)[0])


def test_stratified_split_gives_every_split_each_label():
    groups = np.arange(60)
    labels = np.repeat([0, 1, 2], 20)
    masks = split_groups(groups, (0.6, 0.2, 0.2), seed=0, stratify=labels)
    for mask in masks:
        assert set(labels[mask]) == {0, 1, 2}


def test_split_fractions_must_sum_to_one():
    with pytest.raises(InputDataError, match="must sum to 1"):
        split_groups(np.arange(4), (0.5, 0.4), seed=0)


def test_assert_disjoint_names_the_shared_groups():
    with pytest.raises(AssertionError, match="splits train and val share 1 group"):
        assert_disjoint({"train": np.array([1, 2]), "val": np.array([2, 3])})


def test_time_split_drops_samples_whose_horizon_crosses_a_boundary():
    times = np.datetime64("2015-02-27T00") + np.arange(0, 96, 6) * np.timedelta64(1, "h")
    train, val = time_split(times, [np.datetime64("2015-03-01T00")], np.timedelta64(24, "h"))
    assert (times[train] + np.timedelta64(24, "h") < np.datetime64("2015-03-01T00")).all()
    assert (times[val] >= np.datetime64("2015-03-01T00")).all()
    assert not (train & val).any() and (~train & ~val).sum() == 4  # 4 samples fall in the gap


def test_standardizer_fits_train_and_guards_constant_channels():
    scaler = Standardizer.fit(np.array([[1.0, 5.0], [3.0, 5.0]]), ("a", "b"))
    assert scaler.std.tolist() == [1.0, 1.0]
    assert scaler.apply(np.array([[2.0, 5.0]])).tolist() == [[0.0, 0.0]]
    assert scaler.to_dict()["channels"] == ["a", "b"]


def test_window_view_matches_materialised_windows():
    series = np.arange(40, dtype=np.float32).reshape(20, 2)
    starts = window_starts(0, 20, 6, 4)
    assert starts[-1] + 6 == 20  # the newest sample is always in the last window
    view = WindowView(series, starts, 6)
    assert view.shape == (len(starts), 6, 2)
    np.testing.assert_array_equal(view[np.array([1])][0], series[starts[1]:starts[1] + 6])
    sub = view.take(np.array([0, 2]))
    np.testing.assert_array_equal(sub.spans()[:, 0], starts[[0, 2]])
    data = TaskData(name="x", task=None, groups=np.arange(len(starts)), sensor=view, channels=("a", "b"))
    assert isinstance(data.subset(np.array([0, 1])).sensor, WindowView)  # no copy of the series
    assert data.fingerprint() != data.subset(np.array([0])).fingerprint()


def test_cmapss_windows_targets_and_padding():
    unit = np.repeat([1, 2], [10, 3]).astype(np.int32)
    cycle = np.concatenate([np.arange(1, 11), np.arange(1, 4)]).astype(np.int32)
    runs = RunSet(unit=unit, cycle=cycle, settings=np.zeros((13, 3), np.float32),
                  sensors=np.tile(cycle[:, None], (1, 21)).astype(np.float32))
    series, starts, units, to_end = cmapss.unit_windows(runs, window=5, stride=1)
    assert units.tolist() == [1] * 6 + [2]
    assert to_end.tolist() == [5, 4, 3, 2, 1, 0, 0]  # cycles left after each window's last cycle
    short = series[starts[-1]:starts[-1] + 5, 3]
    assert short.tolist() == [1, 1, 1, 2, 3]  # left-padded with the first cycle
    _, last, _, _ = cmapss.unit_windows(runs, window=5, stride=1, last_only=True)
    assert len(last) == 2


def test_cmapss_short_histories_start_at_min_history_and_keep_the_last_window():
    unit = np.repeat([1, 2], [10, 3]).astype(np.int32)
    cycle = np.concatenate([np.arange(1, 11), np.arange(1, 4)]).astype(np.int32)
    runs = RunSet(unit=unit, cycle=cycle, settings=np.zeros((13, 3), np.float32),
                  sensors=np.tile(cycle[:, None], (1, 21)).astype(np.float32))
    series, starts, units, to_end = cmapss.unit_windows(runs, window=5, stride=1, min_history=2)
    assert units.tolist() == [1] * 9 + [2] * 2  # unit 1 ends a window at cycles 2..10, unit 2 at 2..3
    assert to_end.tolist() == [8, 7, 6, 5, 4, 3, 2, 1, 0, 1, 0]
    assert series[starts[0]:starts[0] + 5, 3].tolist() == [1, 1, 1, 1, 2]  # history of 2 cycles, padded
    assert series[starts[8]:starts[8] + 5, 3].tolist() == [6, 7, 8, 9, 10]
    plain, last, _, _ = cmapss.unit_windows(runs, window=5, stride=1, last_only=True)
    padded, last_padded, _, _ = cmapss.unit_windows(runs, window=5, stride=1, last_only=True, min_history=2)
    for a, b in zip(last, last_padded, strict=True):  # a test engine's last window does not change
        assert np.array_equal(plain[a:a + 5], padded[b:b + 5])


@pytest.mark.parametrize("fractions", [(0.7, 0.15, 0.15), (0.5, 0.25, 0.25)])
def test_cwru_time_segments_are_disjoint_and_cover_the_recording(fractions):
    parts = cwru.segments(1000, fractions)
    assert parts[0][0] == 0 and parts[-1][1] == 1000
    assert all(a[1] == b[0] for a, b in zip(parts, parts[1:], strict=False))


def _recording(load: int, diameter: float | None, n: int = 100):
    from plantpulse.data.datasets.cwru import CwruRecording
    fault = "normal" if diameter is None else "ball"
    return CwruRecording(1, "x", fault, diameter, load, 1797.0, 12000.0, np.zeros(n, np.float32),
                         np.zeros(n, np.float32), None)


def test_cwru_protocols_assign_whole_recordings():
    load = cwru.recording_segments(_recording(3, 0.007), "load", (0.7, 0.15, 0.15), (3,), 0.021)
    assert load == {"test": (0, 100)}
    kept = cwru.recording_segments(_recording(1, 0.007), "load", (0.7, 0.15, 0.15), (3,), 0.021)
    assert set(kept) == {"train", "val"} and kept["train"][1] == kept["val"][0]
    size = cwru.recording_segments(_recording(0, 0.021), "fault_size", (0.7, 0.15, 0.15), (3,), 0.021)
    assert size == {"test": (0, 100)}
    normal = cwru.recording_segments(_recording(0, None), "fault_size", (0.7, 0.15, 0.15), (3,), 0.021)
    assert set(normal) == {"train", "val", "test"}
    with pytest.raises(InputDataError, match="Unknown CWRU protocol 'random'"):
        cwru.recording_segments(_recording(0, 0.007), "random", (0.7, 0.15, 0.15), (3,), 0.021)


def test_azure_text_and_labels_look_only_where_allowed():
    t0 = np.datetime64("2015-01-10T06:00:00")
    hours = np.timedelta64(1, "h")
    errors = EventLog(np.array([t0 - 5 * hours, t0 + hours], dtype="datetime64[s]"),
                      np.array([1, 1], np.int32), np.array(["error3", "error1"], object))
    maint = EventLog(np.array([t0 - 72 * hours], dtype="datetime64[s]"), np.array([1], np.int32),
                     np.array(["comp2"], object))
    failures = EventLog(np.array([t0 + 20 * hours, t0 + 30 * hours], dtype="datetime64[s]"),
                        np.array([1, 1], np.int32), np.array(["comp4", "comp1"], object))
    text = azure.event_text(errors, maint, 1, t0, np.timedelta64(7, "D"))
    assert text == "maint comp2 3d ago. error error3 5h ago."  # the future error is not seen
    assert azure.event_text(errors, maint, 2, t0, np.timedelta64(7, "D")) == ""
    labels = azure.failure_labels(failures, 1, t0, np.timedelta64(24, "h"))
    assert labels.tolist() == [0.0, 0.0, 0.0, 1.0]  # comp4 in 20 h; comp1 (30 h) is beyond


@pytest.mark.parametrize(("action", "system"), [
    ("REMOVED & REPLACED #4 ROCKER COVER GASKET.", "cylinder"),
    ("REPLACED R/H MAG. TIMED MAGS.", "ignition"),
    ("REMOVED & REPLACED FUEL SERVO", "fuel"),
    ("REMOVED & REPLACED STARTER RING GEAR.", "electrical"),  # the starter names it, not "gear"
    ("DRESSED RING GEAR TEETH.", "other"),  # an engine gear: "gear" is no keyword
    ("SECURED BAFFLE SEAL W/ SAFETY WIRE.", "exhaust_baffle"),  # a safety wire is not electrical
    ("FINISHED INSTALLING NACELLE WIRING.", "electrical"),
    ("STOP DRILLED CRACK.", "other"),
])
def test_maintnet_labels_come_from_the_action_text(action, system):
    assert maintnet.system_label(action) == system


def test_ai4i_labels_follow_the_documented_rules():
    failure = np.array([0, 1, 1, 0, 1])
    modes = np.array([[0, 0, 0, 0, 0], [0, 1, 0, 1, 0], [0, 0, 0, 0, 0], [0, 0, 0, 0, 1], [1, 0, 0, 0, 0]])
    assert ai4i.failure_labels(failure, modes).tolist() == [0, 2, -1, 5, 1]


def test_weld_image_label_by_severity():
    boxes = lambda *c: np.array([[k, 0.5, 0.5, 0.1, 0.1] for k in c], np.float32)  # noqa: E731 - a one-line helper local to the test
    assert weld.CLASSES[weld.image_label(boxes(1, 2))] == "defect"
    assert weld.CLASSES[weld.image_label(boxes(1, 0))] == "bad_weld"
    assert weld.CLASSES[weld.image_label(boxes(1))] == "good_weld"


def test_bundle_registry_matches_the_dataset_registry():
    from plantpulse.data.datasets import dataset_names
    assert BUNDLES.names() == dataset_names()


@pytest.mark.parametrize("bad", [-1, 2.5, "20", True])
def test_cmapss_min_history_must_be_a_whole_number_of_cycles(tmp_path, bad):
    with pytest.raises(ValueError, match="min_history.*whole number of cycles"):
        cmapss.build(tmp_path, min_history=bad)


def _classification_bundle() -> TaskBundle:
    spec = TaskSpec(name="fault:x", kind="classification", classes=("a", "b", "c"))
    def part(name, groups, targets):
        return TaskData(name=name, task=spec, groups=np.asarray(groups), targets=np.asarray(targets),
                        texts=tuple(f"{name} {g}" for g in groups))
    train = part("train", np.arange(30), np.arange(30) % 3)
    val_groups = np.repeat(np.arange(100, 140), 2)  # 40 groups of two rows each
    val = part("val", val_groups, (val_groups // 10) % 3)
    test = part("test", np.arange(500, 520), np.arange(20) % 3)
    return TaskBundle("x", {"fault:x": TaskSplits(train, val, test)}, ())


def test_holdout_moves_whole_validation_groups_to_test_and_drops_the_test_rows():
    bundle = _classification_bundle()
    held = hold_out_validation(bundle, 0.5, seed=3)
    parts, before = held.splits["fault:x"], bundle.splits["fault:x"]
    assert parts.train is before.train
    assert len(parts.val) + len(parts.test) == len(before.val)
    assert not set(parts.test.groups) & set(before.test.groups)  # the dataset's test rows are gone
    assert set(parts.test.groups) <= set(before.val.groups)
    assert_disjoint({"val": parts.val.groups, "held out": parts.test.groups})
    assert set(parts.test.texts) <= set(before.val.texts)  # rows keep their inputs
    for side in (parts.val, parts.test):  # stratified: every class on both sides
        assert set(side.targets.tolist()) == {0, 1, 2}
    assert held.notes["holdout"] == {"share": 0.5, "groups": 20, "of": 40}
    again = hold_out_validation(bundle, 0.5, seed=3).splits["fault:x"]
    assert np.array_equal(again.test.groups, parts.test.groups)
    other = hold_out_validation(bundle, 0.5, seed=4).splits["fault:x"]
    assert not np.array_equal(other.test.groups, parts.test.groups)


@pytest.mark.parametrize("bad", [0, 1, -0.5, 1.5, True, "0.5"])
def test_holdout_share_must_be_between_zero_and_one(bad):
    with pytest.raises(InputDataError, match="holdout.*between 0 and 1"):
        hold_out_validation(_classification_bundle(), bad, seed=0)


def test_holdout_refuses_a_validation_split_too_small_to_divide():
    bundle = _classification_bundle()
    parts = bundle.splits["fault:x"]
    one = TaskSplits(parts.train, parts.val.subset(np.flatnonzero(parts.val.groups == 100)), parts.test)
    with pytest.raises(InputDataError, match="too few"):
        hold_out_validation(TaskBundle("x", {"fault:x": one}, ()), 0.5, seed=0)


def test_build_bundle_applies_holdout_for_any_dataset(monkeypatch):
    from plantpulse.pipelines.train import tasks
    seen = {}
    def fake(root, **options):
        seen.update(options)
        return _classification_bundle()
    monkeypatch.setitem(tasks.BUNDLES._items, "fake", fake)
    held = tasks.build_bundle("fake", "/nowhere", seed=2, holdout=0.25)
    assert "holdout" not in seen and seen["seed"] == 2  # the builder never sees the option
    assert held.notes["holdout"]["share"] == 0.25
    assert tasks.build_bundle("fake", "/nowhere", seed=2).splits["fault:x"].test.groups.min() == 500
