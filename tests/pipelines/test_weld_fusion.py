"""The fused weld verdict: candidates judged on validation only, operating points from validation."""

from __future__ import annotations

import numpy as np
import pytest

from plantpulse.data.core.errors import InputDataError
from plantpulse.model.metrics import roc_auc
from plantpulse.pipelines.weld.fusion import Scores, candidates, fuse, markdown


def _scores(rng: np.random.Generator, n: int) -> Scores:
    """Two sources that each see half of the defects: together they see all."""
    defective = rng.random(n) < 0.5
    kind = rng.random(n) < 0.5  # which source can see this image's defect
    detector = np.clip(rng.normal(0.3, 0.1, n) + 0.4 * (defective & kind), 0, 1)
    classifier = np.clip(rng.normal(0.3, 0.1, n) + 0.4 * (defective & ~kind), 0, 1)
    return Scores({"detector": detector, "image classifier": classifier}, defective)


def test_fusion_of_complementary_sources_beats_each_alone() -> None:
    rng = np.random.default_rng(0)
    val, test = _scores(rng, 300), _scores(rng, 300)
    report = fuse(val, test, (0.05, 0.10))
    assert report.chosen not in {"detector", "image classifier"}
    best_single = max(report.test_auc["detector"], report.test_auc["image classifier"])
    assert report.test_auc[report.chosen] > best_single + 0.05
    assert "(chosen on val)" in markdown(report)


def test_the_fitted_combination_is_judged_by_cross_validation_not_in_sample() -> None:
    rng = np.random.default_rng(1)
    val, test = _scores(rng, 120), _scores(rng, 120)
    found = {c.name: c for c in candidates(val, test)}
    logistic = found["logistic regression"]
    in_sample = roc_auc(logistic.val, val.defective)
    assert logistic.val_auc != pytest.approx(in_sample)


def test_operating_points_hold_the_target_on_validation() -> None:
    rng = np.random.default_rng(2)
    val, test = _scores(rng, 400), _scores(rng, 400)
    report = fuse(val, test, (0.05,))
    for c in report.candidates:
        threshold = report.operating_points[c.name][0].threshold
        good = c.val[~val.defective]
        assert (good >= threshold).mean() <= 0.05
        point = report.operating_points[c.name][0]
        assert point.n_good + point.n_defective == 400


def test_a_source_with_the_wrong_length_is_refused() -> None:
    with pytest.raises(InputDataError, match="must be 3 finite numbers"):
        Scores({"detector": np.zeros(2)}, np.zeros(3, dtype=bool))
    rng = np.random.default_rng(3)
    val = _scores(rng, 50)
    other = Scores({"detector": np.zeros(50)}, np.zeros(50, dtype=bool))
    with pytest.raises(InputDataError, match="different sources"):
        candidates(val, other)
