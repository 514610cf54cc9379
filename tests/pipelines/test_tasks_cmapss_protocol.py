"""C-MAPSS task data on the real files: regimes chosen from the data, constant channels dropped,
validation made like the test (last windows of randomly cut validation engines)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from plantpulse.pipelines.train.tasks import build_bundle
from plantpulse.pipelines.train.tasks.cmapss import RUL_TASK, truncated_last_windows


@pytest.mark.slow
@pytest.mark.real_data
@pytest.mark.parametrize(("subset", "regimes"), [("FD001", 1), ("FD002", 6)])
def test_regime_count_is_chosen_from_the_settings(datasets_dir: Path, subset: str, regimes: int):
    bundle = build_bundle("cmapss", datasets_dir, subsets=(subset,))
    stats = bundle.normalizers["turbofan"]
    assert stats["regimes"] == regimes and bundle.notes["regimes"] == regimes
    assert ("conditions" in stats) == (regimes > 1)


@pytest.mark.slow
@pytest.mark.real_data
def test_fd001_drops_its_constant_channels_and_records_them(datasets_dir: Path):
    bundle = build_bundle("cmapss", datasets_dir, subsets=("FD001",))
    stats = bundle.normalizers["turbofan"]
    dropped = set(stats["dropped"])
    assert {"setting_3", "s_1", "s_10", "s_18", "s_19"} <= dropped
    train = bundle.splits[RUL_TASK.name].train
    assert train.channels == tuple(stats["channels"]) and not dropped & set(train.channels)
    window = train.sensor[np.arange(64)]
    assert window.shape[2] == len(train.channels) and np.isfinite(window).all()
    assert np.abs(window).max() < 20  # nothing blown up by a float32 std of a constant


@pytest.mark.slow
@pytest.mark.real_data
def test_validation_is_last_windows_of_cut_validation_engines(datasets_dir: Path):
    bundle = build_bundle("cmapss", datasets_dir, subsets=("FD001",))
    splits = bundle.splits[RUL_TASK.name]
    val = splits.val
    assert len(val) >= 500
    assert not set(val.groups) & set(splits.train.groups)
    engines = np.unique(val.groups)
    per_engine = np.bincount(np.searchsorted(engines, val.groups))
    assert per_engine.max() - per_engine.min() <= per_engine.max() // 2  # spread over every engine
    assert len(np.unique(val.targets)) > 50  # cut at many points, not one window per engine


def test_truncation_draws_distinct_cuts_per_engine():
    units = np.repeat([1, 2, 3], [100, 40, 5])
    rows = truncated_last_windows(units, 60, seed=0)
    assert len(rows) == 20 + 20 + 5 and len(np.unique(rows)) == len(rows)
    assert np.array_equal(rows, truncated_last_windows(units, 60, seed=0))
