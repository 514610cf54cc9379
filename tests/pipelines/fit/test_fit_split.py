"""Splits of fit: whole assets held out when there are enough, else time with a gap."""

from __future__ import annotations

import numpy as np

from plantpulse.pipelines.fit.split import split_rows


def test_five_assets_hold_out_whole_assets() -> None:
    groups = np.repeat(np.array(["a", "b", "c", "d", "e"], dtype=object), 10)
    split = split_rows(groups, np.tile(np.arange(10.0), 5), holdout=0.3, gap=2, seed=0)
    parts = [set(groups[rows]) for rows in (split.train, split.val, split.test)]
    assert split.how == "assets"
    assert not (parts[0] & parts[1]) and not (parts[0] & parts[2]) and not (parts[1] & parts[2])
    assert len(parts[2]) == 2 and len(parts[1]) == 1
    assert set(split.test_assets) == parts[2]


def test_one_asset_is_split_by_time_with_a_gap() -> None:
    groups = np.full(100, "only", dtype=object)
    times = np.arange(100.0)[::-1]  # rows out of time order
    split = split_rows(groups, times, holdout=0.3, gap=3, seed=0)
    assert split.how == "time"
    assert times[split.train].max() + 3 < times[split.val].min()
    assert times[split.val].max() + 3 < times[split.test].min()


def test_two_assets_hold_one_out_and_split_the_other_by_time() -> None:
    groups = np.repeat(np.array(["a", "b"], dtype=object), 20)
    times = np.tile(np.arange(20.0), 2)
    split = split_rows(groups, times, holdout=0.3, gap=2, seed=1)
    assert split.how == "assets+time"
    assert len(set(groups[split.test])) == 1
    assert set(groups[split.train]) == set(groups[split.val]) != set(groups[split.test])
    assert times[split.train].max() + 2 < times[split.val].min()
