"""Repository queries on both engines."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import numpy as np
import pytest

from plantpulse.data.core.errors import InputDataError
from plantpulse.data.core.records import AssetSpec, ChannelSpec, Prediction, PredictionRow
from plantpulse.data.core.times import to_micros
from plantpulse.data.store import repository as repo
from plantpulse.data.store.bulk import ReadingBlock, write_readings
from plantpulse.data.store.db import Database

START = datetime(2025, 1, 1, tzinfo=UTC)


def _seed(db: Database) -> tuple[dict[str, int], dict[str, int]]:
    with db.session() as s:
        assets = repo.ensure_assets(s, [AssetSpec("eng-1", "turbofan"), AssetSpec("eng-2", "turbofan")])
        channels = repo.ensure_channels(s, [ChannelSpec("t24", "degR"), ChannelSpec("p30", "psia")])
        ts = np.array([to_micros(START + timedelta(hours=h)) for h in range(10)])
        a = np.repeat([assets["eng-1"]], 20)
        block = ReadingBlock.build(a, np.repeat(ts, 2), np.tile([channels["t24"], channels["p30"]], 10),
                                   np.arange(20.0))
        write_readings(s.connection(), block, None)
    return assets, channels


def test_ensure_assets_is_idempotent(database: Database) -> None:
    assets, _ = _seed(database)
    with database.session() as s:
        again = repo.ensure_assets(s, [AssetSpec("eng-1", "turbofan")])
        assert again["eng-1"] == assets["eng-1"]
        assert repo.asset_ids(s, ["eng-2", "nope"]) == {"eng-2": assets["eng-2"]}


def test_channel_unit_conflict_is_refused(database: Database) -> None:
    _seed(database)
    with database.session() as s, pytest.raises(InputDataError, match="stored in 'degR' but the input says 'K'"):
        repo.ensure_channels(s, [ChannelSpec("t24", "K")])


def test_latest_window_and_range(database: Database) -> None:
    assets, _ = _seed(database)
    with database.session() as s:
        window = repo.latest_window(s, assets["eng-1"], 3)
        assert window.channels == ("t24", "p30")
        assert window.values.tolist() == [[14.0, 15.0], [16.0, 17.0], [18.0, 19.0]]
        assert str(window.end) == "2025-01-01T09:00:00.000000"
        part = repo.readings_between(s, assets["eng-1"], START + timedelta(hours=2),
                                     START + timedelta(hours=3), channels=["p30"])
        assert part.channels == ("p30",) and part.values.ravel().tolist() == [5.0, 7.0]
        assert len(repo.latest_window(s, assets["eng-2"], 5)) == 0
        assert repo.last_reading_times(s) == {assets["eng-1"]: START + timedelta(hours=9)}


def test_predictions_are_idempotent(database: Database) -> None:
    assets, _ = _seed(database)
    with database.session() as s:
        model = repo.register_model_version(s, name="rul", kind="baseline", path="m.safetensors")
        row = PredictionRow(assets["eng-1"], START, model.id,
                            Prediction(rul_mean=40.0, fault_probs={"hpc": 0.7, "fan": 0.3}))
        assert repo.upsert_predictions(s, [row]) == 1
        assert repo.upsert_predictions(s, [row]) == 0


def test_model_versions_promote_and_archive(database: Database) -> None:
    with database.session() as s:
        v1 = repo.register_model_version(s, name="rul", kind="baseline", path="a")
        v2 = repo.register_model_version(s, name="rul", kind="baseline", path="b")
        assert (v1.version, v2.version) == (1, 2)
        assert repo.current_model_version(s, "rul").id == v2.id
        repo.promote_model_version(s, v1.id)
        assert repo.current_model_version(s, "rul").id == v1.id
        repo.promote_model_version(s, v2.id)
        s.refresh(v1)
        assert v1.stage == "archived" and repo.current_model_version(s, "rul").id == v2.id


def test_alerts_deduplicate_while_open(database: Database) -> None:
    assets, _ = _seed(database)
    with database.session() as s:
        first = repo.raise_alert(s, rule="rul_low", severity="warning", message="RUL 20",
                                 dedupe_key="rul_low:eng-1", asset_id=assets["eng-1"])
        second = repo.raise_alert(s, rule="rul_low", severity="warning", message="RUL 18",
                                  dedupe_key="rul_low:eng-1", asset_id=assets["eng-1"])
        assert first.id == second.id and second.occurrences == 2 and second.message == "RUL 18"
        repo.acknowledge_alert(s, first.id, "ana")
        assert first.status == "acknowledged" and first.acknowledged_by == "ana"
        with pytest.raises(InputDataError, match="No alert with id 999"):
            repo.acknowledge_alert(s, 999, "ana")
