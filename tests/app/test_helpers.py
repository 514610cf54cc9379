"""Pure helpers of the dashboard: time formatting, health, survival curves, chart inputs."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import numpy as np
import pandas as pd
import pytest

from plantpulse.app.queries.asset import nice_width
from plantpulse.app.queries.models import flatten, markdown_sections, rollback_target, split_images
from plantpulse.app.widgets import asset as asset_views
from plantpulse.app.widgets import health, survival, timefmt
from plantpulse.app.widgets import weld as weld_views


@pytest.mark.parametrize(("zone", "expected"), [
    ("UTC", "2025-01-01 12:00 UTC"),
    ("Europe/Berlin", "2025-01-01 13:00 CET"),
    ("America/Chicago", "2025-01-01 06:00 CST"),
], ids=["utc", "berlin", "chicago"])
def test_format_ts_shows_plant_local_time(zone: str, expected: str) -> None:
    assert timefmt.format_ts(datetime(2025, 1, 1, 12, tzinfo=UTC), zone) == expected


def test_format_ts_missing_is_a_dash() -> None:
    assert timefmt.format_ts(None, "UTC") == timefmt.MISSING
    assert timefmt.format_ts(pd.NaT, "UTC") == timefmt.MISSING


@pytest.mark.parametrize(("ago", "expected"), [
    (timedelta(seconds=30), "30 s ago"), (timedelta(minutes=5), "5 min ago"),
    (timedelta(hours=30), "30 h ago"), (timedelta(days=10), "10 d ago"),
    (timedelta(days=400), "13 mo ago"), (timedelta(days=3 * 365), "3.0 y ago"),
], ids=["seconds", "minutes", "hours", "days", "months", "years"])
def test_format_age(ago: timedelta, expected: str) -> None:
    now = datetime(2025, 6, 1, tzinfo=UTC)
    assert timefmt.format_age(now - ago, now) == expected


def test_local_naive_times_keep_the_plant_wall_clock() -> None:
    utc = pd.Series(pd.to_datetime(["2025-07-01T10:00:00Z"]))
    local = timefmt.to_local_naive(utc, "Europe/Berlin")
    assert local.iloc[0] == pd.Timestamp("2025-07-01 12:00:00") and local.dt.tz is None


@pytest.mark.parametrize(("rank", "scored", "state"), [
    (3, True, health.CRITICAL), (2, True, health.WARNING), (1, True, health.WARNING),
    (0, True, health.OK), (0, False, health.UNKNOWN), (None, False, health.UNKNOWN),
], ids=["critical", "warning", "info", "ok", "unscored", "none"])
def test_health_state(rank: int | None, scored: bool, state: str) -> None:
    assert health.state(rank, scored) == state


def test_format_rul_with_interval_and_unit() -> None:
    assert health.format_rul(87.4, 62.0, 110.2, "cycles") == "87 (62–110) cycles"
    assert health.format_rul(None, None, None, "h") == "—"


def test_kaplan_meier_matches_lifelines() -> None:
    lifelines = pytest.importorskip("lifelines")
    rng = np.random.default_rng(3)
    durations = rng.exponential(100.0, 60).round()
    observed = rng.random(60) < 0.7
    ours = survival.kaplan_meier(durations, observed).groupby("time")["survival"].last()
    fitter = lifelines.KaplanMeierFitter().fit(durations, observed)
    theirs = fitter.survival_function_.iloc[:, 0]
    for t in ours.index:
        assert ours[t] == pytest.approx(float(theirs[theirs.index <= t].iloc[-1]))


def test_asset_lives_splits_at_failures_and_censors_the_rest() -> None:
    t0 = datetime(2025, 1, 1, tzinfo=UTC)
    lives = survival.asset_lives({1: [t0 + timedelta(hours=10)]},
                                 {1: (t0, t0 + timedelta(hours=25)), 2: (t0, t0 + timedelta(hours=5))},
                                 {1: "pump", 2: "pump"})
    assert lives.durations_h.tolist() == [10.0, 15.0, 5.0]
    assert lives.failed.tolist() == [True, False, False]


def test_rul_survival_from_quantiles_is_monotone() -> None:
    curve = survival.rul_survival({"0.1": 40.0, "0.5": 60.0, "0.9": 90.0, "bad": "x"})
    assert curve["time"].tolist() == [0.0, 40.0, 60.0, 90.0]
    assert curve["survival"].tolist() == pytest.approx([1.0, 0.9, 0.5, 0.1])
    fallback = survival.rul_survival(None, mean=50.0, lower=30.0, upper=70.0)
    assert fallback["time"].tolist() == [0.0, 30.0, 50.0, 70.0]


@pytest.mark.parametrize(("raw_s", "width_s"), [(0.00057, 0.001), (0.2, 0.5), (0.7, 1), (7, 10), (50 * 60, 3600),
                                                (3 * 86_400, 7 * 86_400), (20 * 86_400, 21 * 86_400)],
                         ids=["vibration", "sub-second", "second", "seconds", "hour", "week", "weeks"])
def test_nice_bucket_widths(raw_s: float, width_s: float) -> None:
    assert nice_width(int(raw_s * 1e6)) == round(width_s * 1_000_000)


@pytest.mark.parametrize(("micros", "text"), [(1000, "1 ms"), (500_000, "500 ms"), (1_000_000, "1 s"),
                                              (900_000_000, "15 min"), (86_400_000_000, "1 d")])
def test_bucket_widths_read_as_people_say_them(micros: int, text: str) -> None:
    from plantpulse.app.widgets.timefmt import duration

    assert duration(micros) == text


def test_channels_that_drift_come_first() -> None:
    rng = np.random.default_rng(0)
    n = 40
    frame = pd.concat([
        pd.DataFrame({"channel_id": 1, "bucket": range(n), "mean": 518.67}),  # constant
        pd.DataFrame({"channel_id": 2, "bucket": range(n), "mean": rng.normal(0, 0.003, n)}),  # noise
        pd.DataFrame({"channel_id": 3, "bucket": range(n), "mean": 640 + np.linspace(0, 2, n)}),  # drift
        pd.DataFrame({"channel_id": 4, "bucket": range(n), "mean": 9 - np.linspace(0, 0.2, n)
                      + rng.normal(0, 0.02, n)}),  # drift with noise
    ])
    assert asset_views.most_changed(frame, 2) == [3, 4]


def test_routing_shares_normalise_each_group() -> None:
    frame = asset_views.routing_shares({"modality": {"sensors": 3, "text": 1}, "experts": [0.0, 2.0, 2.0],
                                        "note": "ignored"})
    shares = frame.set_index(["group", "name"])["share"]
    assert shares[("modality", "sensors")] == pytest.approx(0.75)
    assert shares[("experts", "expert 1")] == pytest.approx(0.5) and ("experts", "expert 0") not in shares.index
    stored = asset_views.routing_shares({"modality_shares": {"sensor": 1.0}, "expert_shares": [0.2, 0.8]})
    assert set(stored["group"]) == {"modality", "expert"} and stored["name"].tolist()[-1] == "expert 1"


def test_p_chart_flags_only_judged_points_above_the_limit() -> None:
    from plantpulse.pipelines.alerts.pchart import ChartPoint, Subgroup, flagged, judged

    cases = [(20, 2, None, None), (20, 2, None, None), (20, 9, 0.1, 0.3), (5, 4, 0.2, 0.7), (20, 1, 0.2, 0.45)]
    points = [None if c is None else ChartPoint(Subgroup(1, "c", f"s{i}", None, n, r), c, 0.0, u, 2)
              for i, (n, r, c, u) in enumerate(cases)]
    assert [judged(p, 10) for p in points] == [False, False, True, False, True]
    assert [flagged(p, 10) for p in points] == [False, False, True, False, False]
    rows = [{"cell": "c", "period": f"s{i}", "n": n, "rejects": r, "p": r / n, "center": c, "ucl": u, "lcl": 0.0,
             "judged": judged(p, 10), "out": flagged(p, 10)} for i, ((n, r, c, u), p) in enumerate(zip(cases, points, strict=True))]
    frame = weld_views.p_chart_frame(rows)
    assert frame["out"].tolist() == [False, False, True, False, False] and (frame["group"] == "c").all()


def test_model_helpers() -> None:
    assert flatten({"a": {"b": 1, "c": [2, 3]}}) == {"a.b": 1, "a.c.0": 2, "a.c.1": 3}
    frame = pd.DataFrame({"id": [3, 2, 1], "version": [3, 2, 1], "stage": ["production", "archived", "archived"],
                          "promoted_at": [pd.Timestamp("2025-03-01", tz="UTC"), pd.Timestamp("2025-02-01", tz="UTC"), pd.NaT]})
    assert rollback_target(frame) == 2
    sections = markdown_sections("# T\nintro\n## A\na\n## B\nb ![p](img/x.png) c")
    assert [s[0] for s in sections] == ["", "A", "B"]
    pieces = split_images(sections[2][1], __import__("pathlib").Path("/docs"))
    assert pieces == [("md", "b "), ("img", "/docs/img/x.png"), ("md", " c")]
