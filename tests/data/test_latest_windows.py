"""``latest_windows`` (many assets at once) returns exactly what ``latest_window`` returns per asset."""

from __future__ import annotations

import numpy as np
import pytest

from plantpulse.data.core.records import AssetSpec, ChannelSpec
from plantpulse.data.store.bulk import ReadingBlock, write_readings
from plantpulse.data.store.db import Database
from plantpulse.data.store.repository import ensure_assets, ensure_channels, latest_window, latest_windows

T0 = 1_767_225_600_000_000


def fill(db: Database, rng: np.random.Generator) -> list[int]:
    with db.session() as s:
        ids = ensure_assets(s, [AssetSpec(f"m{i}", "pump") for i in range(5)])
        ch = ensure_channels(s, [ChannelSpec(c) for c in ("t", "p", "v")])
        rows = []
        for i, name in enumerate(sorted(ids)):
            n = [40, 3, 0, 25, 12][i]
            for k in range(n):
                for c in ("t", "p", "v"):
                    if name == "m3" and c == "v" and k > 20:
                        continue  # a channel that stopped reporting
                    rows.append((ids[name], T0 + k * 1_000_000 + i, ch[c], rng.normal()))
        a, ts, c, v = (np.asarray(x) for x in zip(*rows, strict=True))
        write_readings(s.connection(), ReadingBlock.build(a, ts, c, v), None)
        return [ids[f"m{i}"] for i in range(5)]


@pytest.mark.parametrize("channels", [None, ("t", "v")], ids=["all-channels", "some-channels"])
def test_same_windows_as_one_by_one(database: Database, rng: np.random.Generator,
                                    channels: tuple[str, ...] | None) -> None:
    ids = fill(database, rng)
    with database.session() as s:
        many = latest_windows(s, ids + [99_999], 10, channels)
        assert 99_999 not in many
        for asset_id in ids:
            one = latest_window(s, asset_id, 10, channels)
            got = many[asset_id]
            assert (got.asset_name, got.channels) == (one.asset_name, one.channels)
            np.testing.assert_array_equal(got.ts, one.ts)
            np.testing.assert_array_equal(got.values, one.values)
    assert [len(many[i]) for i in ids] == [10, 3, 0, 10, 10]
