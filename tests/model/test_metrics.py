"""The metrics module against hand-computed answers."""

from __future__ import annotations

import math

import numpy as np
import pytest

from plantpulse.data.core.errors import InputDataError
from plantpulse.model import metrics as M


def test_rmse_known_answer():
    assert M.rmse([1, 2, 3], [1, 2, 5]) == pytest.approx(math.sqrt(4 / 3))


@pytest.mark.parametrize(("pred", "true", "expected"), [
    ([13.0], [26.0], math.e - 1),          # 13 cycles early: exp(13/13) - 1
    ([20.0], [10.0], math.e - 1),          # 10 cycles late: exp(10/10) - 1
    ([50.0], [50.0], 0.0),                 # exact
    ([0.0, 23.0, 10.0], [13.0, 13.0, 10.0], 2 * (math.e - 1)),
    ([0.0], [26.0], math.e**2 - 1),        # 26 early
    ([30.0], [10.0], math.e**2 - 1),       # 20 late
], ids=["early13", "late10", "exact", "sum", "early26", "late20"])
def test_phm08_score_hand_computed(pred, true, expected):
    assert M.phm08_score(pred, true) == pytest.approx(expected)


def test_phm08_penalises_late_more_than_early():
    assert M.phm08_score([60.0], [50.0]) > M.phm08_score([40.0], [50.0])


def test_coverage_counts_closed_intervals():
    assert M.coverage([1, 5, 10], [0, 6, 10], [2, 7, 10]) == pytest.approx(2 / 3)


def test_coverage_rejects_inverted_intervals():
    with pytest.raises(InputDataError, match="lower > upper"):
        M.coverage([1.0], [2.0], [0.0])


def test_accuracy_and_macro_f1_known_answer():
    true, pred = [0, 0, 1, 1], [0, 1, 1, 1]
    assert M.accuracy(pred, true) == 0.75
    assert M.macro_f1(pred, true) == pytest.approx((2 / 3 + 0.8) / 2)


def test_macro_f1_counts_a_class_never_predicted_as_zero():
    assert M.macro_f1([0, 0], [0, 0], labels=[0, 1]) == pytest.approx(0.5)


def test_multilabel_macro_f1_averages_the_labels():
    true = np.array([[1, 0], [0, 1], [1, 1]])
    pred = np.array([[1, 0], [0, 0], [1, 1]])  # label 0 perfect, label 1: P=1, R=0.5
    assert M.macro_f1(pred, true) == pytest.approx((1.0 + 2 / 3) / 2)


def test_pr_auc_known_answer_and_skips_labels_without_positives():
    scores = np.array([[0.9, 0.2], [0.8, 0.1], [0.1, 0.3]])
    true = np.array([[1, 0], [0, 0], [1, 0]])
    assert M.pr_auc(scores, true) == pytest.approx((1 + 2 / 3) / 2)
    assert math.isnan(M.pr_auc(scores[:, 1], true[:, 1]))


@pytest.mark.parametrize(("risk", "expected"), [
    ([3.0, 1.0, 2.0], 1.0), ([1.0, 3.0, 2.0], 0.0), ([2.0, 3.0, 1.0], 0.5),
], ids=["perfect", "reversed", "half"])
def test_concordance_handles_censoring(risk, expected):
    # subject 2 is censored at t=2, so the pair (2, 3) is not comparable; treating it as an
    # event would give 2/3 for the "half" case.
    assert M.concordance(np.array([1.0, 2.0, 3.0]), np.array(risk), np.array([1, 0, 1])) == pytest.approx(expected)


def test_concordance_without_events_is_refused():
    with pytest.raises(InputDataError, match="no observed event"):
        M.concordance(np.array([1.0, 2.0]), np.array([0.1, 0.2]), np.array([0, 0]))


@pytest.mark.parametrize("bad", [([1.0, 2.0], [1.0]), ([], []), ([np.nan], [1.0])], ids=["length", "empty", "nan"])
def test_rmse_rejects_bad_input(bad):
    with pytest.raises(InputDataError, match="rmse"):
        M.rmse(*bad)


def test_mae_and_mean_width_known_answer():
    assert M.mae([1, 2, 3], [2, 2, 5]) == pytest.approx(1.0)
    assert M.mean_width([0, 5], [2, 9]) == pytest.approx(3.0)


@pytest.mark.parametrize(
    ("k", "n", "low", "high"),
    [(0, 10, 0.0, 0.2775), (5, 10, 0.2366, 0.7634), (1, 200, 0.00088, 0.02775)],
    ids=["zero", "half", "rare"],
)
def test_wilson_interval(k: int, n: int, low: float, high: float) -> None:
    assert M.wilson_interval(k, n) == pytest.approx((low, high), abs=5e-4)


def test_wilson_interval_without_trials_is_everything() -> None:
    assert M.wilson_interval(0, 0) == (0.0, 1.0)


@pytest.mark.parametrize(
    ("scores", "positive", "auc"),
    [([0.9, 0.8, 0.1, 0.2], [True, True, False, False], 1.0),
     ([0.1, 0.2, 0.9, 0.8], [True, True, False, False], 0.0),
     ([0.5, 0.5, 0.5, 0.5], [True, False, True, False], 0.5),
     ([0.9, 0.3, 0.5, 0.1], [True, True, False, False], 0.75)],
    ids=["perfect", "inverted", "ties", "partial"],
)
def test_roc_auc(scores: list[float], positive: list[bool], auc: float) -> None:
    assert M.roc_auc(scores, positive) == pytest.approx(auc)


def test_roc_auc_of_one_class_is_nan_and_nan_scores_are_refused() -> None:
    assert math.isnan(M.roc_auc([0.1, 0.2], [True, True]))
    with pytest.raises(InputDataError, match="NaN or inf"):
        M.roc_auc([float("nan"), 0.1], [False, True])


def test_confusion_rows_are_truth_columns_predictions():
    matrix = M.confusion([0, 2, 2, 1], [0, 1, 2, 1], 4)
    expected = np.zeros((4, 4), dtype=int)
    expected[0, 0] = expected[1, 2] = expected[2, 2] = expected[1, 1] = 1
    np.testing.assert_array_equal(matrix, expected)  # class 3 never seen: a zero row and column


def test_best_f1_thresholds_maximise_f1_per_column():
    scores = np.array([[0.9, 0.1], [0.6, 0.2], [0.4, 0.3], [0.1, 0.4]])
    truth = np.array([[1, 0], [1, 0], [0, 0], [0, 1]])
    t = M.best_f1_thresholds(scores, truth)
    assert t[0] == pytest.approx(0.5) and t[1] == pytest.approx(0.35)  # midpoints of the gaps


def test_best_f1_threshold_is_the_lowest_best_and_half_without_positives():
    # thresholds 0.9 and 0.6 both give F1 = 2/3 (one of two positives, or both plus two false
    # alarms); the lowest one is kept, and no score lies below it
    scores, truth = [0.9, 0.8, 0.7, 0.6], [1, 0, 0, 1]
    assert M.best_f1_threshold(scores, truth) == pytest.approx(0.6)
    assert M.best_f1_threshold([0.2, 0.9], [0, 0]) == 0.5


def test_best_f1_threshold_sits_in_the_middle_of_a_separating_gap():
    # saturated probabilities that separate validation perfectly: any threshold in
    # (0.003, 0.9998] gives F1 = 1; the midpoint keeps a positive at 0.99 of new data
    scores, truth = [0.9999, 0.9998, 0.003, 0.001, 0.0], [1, 1, 0, 0, 0]
    threshold = M.best_f1_threshold(scores, truth)
    assert threshold == pytest.approx((0.9998 + 0.003) / 2)
    predictions = np.asarray(scores) >= threshold
    np.testing.assert_array_equal(predictions, np.asarray(truth, dtype=bool))  # same F1 on these rows
    assert 0.99 >= threshold
