"""Verdicts from reject scores: rates, intervals and the validation-chosen threshold."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from plantpulse.data.core.errors import InputDataError
from plantpulse.model.weld.inference import Detection, ImageDetections
from plantpulse.model.weld.verdict import (
    choose_threshold,
    reject_score,
    verdict_metrics,
)


def result(*boxes: tuple[str, float]) -> ImageDetections:
    dets = tuple(Detection(i, name, score, (0, 0, 10, 10)) for i, (name, score) in enumerate(boxes))
    return ImageDetections("0" * 64, 100, 100, dets)


@pytest.mark.parametrize(
    ("boxes", "expected"),
    [((), 0.0), ((("Good Weld", 0.9),), 0.0), ((("Defect", 0.4), ("Bad Weld", 0.7)), 0.7),
     ((("Good Weld", 0.99), ("Defect", 0.2)), 0.2)],
    ids=["none", "good-only", "max-of-defects", "ignores-good"],
)
def test_reject_score(boxes: tuple, expected: float) -> None:
    assert reject_score(result(*boxes)) == expected


def test_verdict_metrics_counts() -> None:
    scores = [0.9, 0.8, 0.1, 0.6, 0.05, 0.3]
    defective = [True, True, True, False, False, False]
    m = verdict_metrics(scores, defective, threshold=0.5)
    assert (m.n_defective, m.n_good, m.false_accepts, m.false_rejects) == (3, 3, 1, 1)
    assert m.false_accept_rate == pytest.approx(1 / 3)
    assert m.false_reject_rate == pytest.approx(1 / 3)
    assert m.accuracy == pytest.approx(4 / 6)
    assert m.false_reject_ci[0] < 1 / 3 < m.false_reject_ci[1]


def test_rate_without_good_images_is_nan() -> None:
    m = verdict_metrics([0.2, 0.9], [True, True], 0.5)
    assert math.isnan(m.false_reject_rate) and m.false_reject_ci == (0.0, 1.0)


def test_choose_threshold_example() -> None:
    scores = [0.95, 0.9, 0.7, 0.4, 0.3, 0.2, 0.1, 0.05, 0.02, 0.01, 0.0, 0.0]
    defective = [True, True, True, False, True, False, False, False, False, False, False, False]
    # 8 good images; 12.5 % allows one false reject: the good 0.4 may be rejected, not the 0.2.
    threshold = choose_threshold(scores, defective, 0.125)
    assert 0.2 < threshold <= 0.2 + 1e-12
    assert verdict_metrics(scores, defective, threshold).false_rejects == 1


@settings(max_examples=200, deadline=None)
@given(
    scores=st.lists(st.floats(0, 1), min_size=2, max_size=60),
    seed=st.integers(0, 10_000),
    target=st.floats(0, 0.5),
)
def test_choose_threshold_meets_target_and_is_lowest(scores: list[float], seed: int,
                                                     target: float) -> None:
    defective = np.random.default_rng(seed).random(len(scores)) < 0.5
    if defective.all():
        defective[0] = False
    threshold = choose_threshold(scores, defective, target)
    rate = verdict_metrics(scores, defective, threshold).false_reject_rate
    assert rate <= target + 1e-9
    good = np.asarray(scores)[~defective]
    lower = good[good < threshold]
    if lower.size:  # the next lower good score as threshold would break the target
        assert verdict_metrics(scores, defective, float(lower.max())).false_reject_rate > target


@pytest.mark.parametrize(
    ("scores", "defective", "target", "match"),
    [([0.1, 0.2], [True], 0.1, "two 1-D sequences of one length"),
     ([0.1], [False], 1.5, r"target_false_reject must be in \[0, 1\]"),
     ([0.1, 0.9], [True, True], 0.1, "without any good"),
     ([float("nan"), 0.1], [False, True], 0.1, "NaN or infinite")],
    ids=["length", "target", "no-good", "nan"],
)
def test_choose_threshold_errors(scores: list, defective: list, target: float, match: str) -> None:
    with pytest.raises(InputDataError, match=match):
        choose_threshold(scores, defective, target)


def test_verdict_report_for_any_scorer() -> None:
    from plantpulse.model.weld.evaluate import verdict_report

    val_scores, val_truth = [0.9, 0.6, 0.3, 0.1, 0.05], [True, True, False, False, False]
    test_scores, test_truth = [0.8, 0.2, 0.4, 0.31], [True, True, False, False]
    report = verdict_report(val_scores, val_truth, test_scores, test_truth, 0.0)
    assert report.val.false_rejects == 0 and 0.3 < report.val.threshold < 0.31
    assert (report.test.false_accepts, report.test.false_rejects) == (1, 2)
