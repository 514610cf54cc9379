"""C-MAPSS rows: the calibrated MoE interval, and its mean width beside the coverage."""

from __future__ import annotations

import numpy as np
import pytest

from plantpulse.model.moe.calibration import entry
from plantpulse.pipelines.evaluate.cmapss import METRICS, calibrated
from plantpulse.pipelines.evaluate.report import fmt
from plantpulse.pipelines.evaluate.scoring import rul_scores


def test_rul_scores_report_width_beside_coverage():
    scores = rul_scores(np.array([50.0, 100.0]), np.array([55.0, 140.0]), 125.0,
                        np.array([40.0, 90.0]), np.array([70.0, 150.0]))
    assert scores["coverage80"] == 1.0  # 140 is capped to 125, inside [90, 125]
    assert scores["width80"] == pytest.approx((30.0 + 35.0) / 2)  # the upper bound is capped too
    assert METRICS.index("width80") == METRICS.index("coverage80") + 1
    assert fmt("width80", (32.46, 1.04)) == "32.5 ± 1.0"


def test_moe_outputs_take_the_checkpoints_calibration():
    outs = {"mean": np.array([60.0, 130.0]), "std": np.array([10.0, 10.0]), "lower": np.array([47.2, 117.2]),
            "upper": np.array([72.8, 142.8]), "target": np.array([50.0, 125.0])}
    nominal = calibrated(outs, {})  # no calibration stored: the Gaussian 80 % around the clipped mean
    np.testing.assert_allclose(nominal["lower"], [47.18, 112.18], atol=0.01)
    np.testing.assert_allclose(nominal["upper"], [72.82, 125.0], atol=0.01)
    got = calibrated(outs, {"rul_intervals": {"rul:turbofan": entry(2.0, 800)}})
    np.testing.assert_allclose(got["lower"], [40.0, 105.0])
    np.testing.assert_allclose(got["upper"], [80.0, 125.0])
    assert got["mean"] is outs["mean"]
