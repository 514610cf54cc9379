"""Alert rules on single predictions, and the weld reject p-chart."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from plantpulse.data.core.config.jobs import AlertSettings
from plantpulse.data.core.records import AssetSpec, Prediction, PredictionRow
from plantpulse.data.store.db import Database
from plantpulse.data.store.repository import ensure_assets, register_model_version
from plantpulse.data.store.schema import WeldImage, WeldInspection
from plantpulse.pipelines.alerts.pchart import Subgroup, judge, shift_label, weld_findings
from plantpulse.pipelines.alerts.rules import PREDICTION_RULES, Scored, evaluate

END = datetime(2026, 3, 1, 12, tzinfo=UTC)
CFG = AlertSettings()


def scored(kind: str = "baseline", **fields: object) -> Scored:
    row = PredictionRow(asset_id=7, window_end=END, model_version_id=1, prediction=Prediction(**fields))
    return Scored(row, "press-07", "press", "student v3", kind)


@pytest.mark.parametrize(("fields", "fired"), [
    ({"rul_mean": 20.0, "rul_lower": 12.0, "rul_upper": 31.0}, ["rul_low"]),
    ({"rul_mean": 40.0, "rul_lower": 25.0, "rul_upper": 55.0}, []),
    ({"fault_probs": {"normal": 0.1, "inner_race": 0.9}}, ["fault_probable"]),
    ({"fault_probs": {"normal": 0.95, "inner_race": 0.05}}, []),
    ({"anomaly_score": 3.5}, ["anomaly_high"]),
    ({"anomaly_score": 2.5}, []),
    ({}, []),
], ids=["rul-low", "rul-ok", "fault", "normal-is-not-a-fault", "anomaly", "anomaly-ok", "nothing-predicted"])
def test_each_rule_fires_only_past_its_threshold(fields: dict, fired: list[str]) -> None:
    assert [f.rule for f in evaluate([scored(**fields)], CFG)] == fired


def test_faults_that_share_the_mass_add_up_when_the_model_has_a_normal_class() -> None:
    """Azure machine 17 at 2015-04-01 05:00, as the demo's 24 h model scores it: comp2 and comp4
    together; it failed with both an hour later. No single component reaches 0.8."""
    probs = {"comp1": 0.048, "comp2": 0.466, "comp3": 0.030, "comp4": 0.367, "normal": 0.088}
    [f] = evaluate([scored(fault_probs=probs)], CFG)
    assert (f.rule, f.severity, f.evidence["fault"], f.evidence["basis"]) == \
        ("fault_probable", "warning", "comp2", "not normal")
    assert f.evidence["probability"] == pytest.approx(0.911)
    assert f.message == ("press-07: a fault with probability 0.91, most likely 'comp2' 0.47, 'comp4' 0.37 "
                         "(threshold 0.8).")
    # without a normal class the classes are alternatives, not parts of one risk: the likeliest counts
    assert evaluate([scored(fault_probs={"comp2": 0.5, "comp4": 0.5})], CFG) == []
    [f] = evaluate([scored(fault_probs={"comp2": 0.85, "comp4": 0.15})], CFG)
    assert f.evidence["basis"] == "likeliest class" and f.message.startswith("press-07: fault 'comp2' with")


def test_rul_finding_words_the_interval_and_the_action() -> None:
    [f] = evaluate([scored(rul_mean=8.0, rul_lower=3.0, rul_upper=14.0)], CFG)
    assert f.severity == "critical" and f.dedupe_key == "rul_low:7"
    assert f.message == "press-07: remaining useful life 8 (80 % interval 3-14), below the threshold of 30."
    assert f.recommended_action.startswith("Plan maintenance of press-07 within 3-8 cycles/hours")
    assert f.evidence["rul_interval"] == [3.0, 14.0] and f.evidence["model"] == "student v3"


def test_rul_basis_lower_alerts_earlier() -> None:
    row = {"rul_mean": 40.0, "rul_lower": 25.0, "rul_upper": 55.0}
    assert evaluate([scored(**row)], AlertSettings(rul_basis="lower"))[0].rule == "rul_low"


def test_anomaly_level_depends_on_the_model_kind() -> None:
    assert evaluate([scored("moe", anomaly_score=0.95)], CFG)[0].evidence["threshold"] == 0.9
    assert evaluate([scored("baseline", anomaly_score=0.95)], CFG) == []


def test_rules_are_a_registry_with_helpful_errors() -> None:
    assert PREDICTION_RULES.names() == ["anomaly_high", "fault_probable", "rul_low"]
    with pytest.raises(KeyError, match=r"Unknown alert rule 'rul'. Available: anomaly_high, fault_probable, rul_low"):
        PREDICTION_RULES.get("rul")


@pytest.mark.parametrize(("local", "label"), [
    (datetime(2026, 3, 2, 7, 30), "2026-03-02 shift 1 (06:00)"),
    (datetime(2026, 3, 2, 14, 0), "2026-03-02 shift 2 (14:00)"),
    (datetime(2026, 3, 2, 23, 10), "2026-03-02 shift 3 (22:00)"),
    (datetime(2026, 3, 3, 2, 10), "2026-03-02 shift 3 (22:00)"),
], ids=["morning", "afternoon-start", "night", "night-after-midnight"])
def test_shift_of_a_time(local: datetime, label: str) -> None:
    zone = ZoneInfo("Europe/Berlin")
    assert shift_label(local.replace(tzinfo=zone), (6, 14, 22), zone)[0] == label


def groups(*counts: tuple[int, int]) -> list[Subgroup]:
    return [Subgroup(1, "weld-cell-01", f"s{i}", datetime(2026, 3, 1, tzinfo=UTC), n, r)
            for i, (n, r) in enumerate(counts)]


def test_pchart_limits_and_judgement() -> None:
    point = judge(groups((100, 5), (100, 5), (100, 5), (50, 10)), sigma=3.0, baseline=20)
    assert point is not None and point.centre == pytest.approx(0.05)
    assert point.ucl == pytest.approx(0.05 + 3 * (0.05 * 0.95 / 50) ** 0.5)
    assert point.above and point.subgroup.p == 0.2
    calm = judge(groups((100, 5), (100, 5), (100, 5), (50, 3)), sigma=3.0, baseline=20)
    assert calm is not None and not calm.above
    assert judge(groups((100, 5), (50, 20)), sigma=3.0, baseline=20) is None, "one past shift is no baseline"


def test_weld_findings_from_inspections(tmp_path: Path) -> None:
    db = Database(f"sqlite:///{tmp_path / 'w.db'}")
    db.upgrade()
    with db.session() as s:
        cell = ensure_assets(s, [AssetSpec("weld-cell-01", "weld_cell")])["weld-cell-01"]
        version = register_model_version(s, name="weld", kind="yolo", path="x")
        image = 0
        for day, (n, rejects) in enumerate([(20, 1), (20, 2), (20, 1), (20, 9)], start=1):
            for k in range(n):
                image += 1
                s.add(WeldImage(id=image, sha256=f"{image:064d}", storage_path="x", original_name="x", width=1,
                                height=1, format="JPEG", asset_id=cell,
                                captured_at=datetime(2026, 3, day, 8, k, tzinfo=UTC)))
                s.add(WeldInspection(image_id=image, model_version_id=version.id, threshold=0.5,
                                     verdict="reject" if k < rejects else "pass", reject_score=0.0))
    with db.session() as s:
        findings, points = weld_findings(s, AlertSettings(pchart_min_inspections=10), "UTC")
    [f] = findings
    assert f.rule == "weld_reject_rate" and f.asset == "weld-cell-01"
    assert f.message.startswith("weld-cell-01: reject rate 45.0% (9/20) in 2026-03-04 shift 1 (06:00)")
    assert points[0].centre == pytest.approx(4 / 60)
    db.dispose()
