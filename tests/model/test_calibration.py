"""Split-conformal RUL intervals: calibrated on validation units, stored, applied at inference."""

from __future__ import annotations

import numpy as np
import pytest

from plantpulse.data.core.errors import InputDataError
from plantpulse.model.metrics import coverage
from plantpulse.model.moe.calibration import conformal_scale, entry, rul_interval, stored_scale

CAP = 125.0


def _units(rng: np.random.Generator, n: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Predictions of a model whose stated std is half its real error (over-confident), with errors
    that grow with the RUL, and true RULs capped as in C-MAPSS."""
    true = np.minimum(rng.uniform(0, 180, n), CAP)
    error_sd = 4.0 + 0.12 * true
    mean = true + rng.normal(0, error_sd)
    return mean, 0.5 * error_sd, true


def test_calibrated_coverage_lands_near_80_percent_on_held_out_units(np_rng: np.random.Generator) -> None:
    val, test = _units(np_rng, 1000), _units(np_rng, 5000)
    scale = conformal_scale(*val, cap=CAP)
    _, lower, upper = rul_interval(test[0], test[1], CAP, scale)
    assert 0.75 <= coverage(test[2], lower, upper) <= 0.85
    _, lower, upper = rul_interval(test[0], test[1], CAP)  # the nominal interval of the same model
    assert coverage(test[2], lower, upper) < 0.6
    assert scale > 1.5  # widened: the stated std was half the error (less at the capped end)


def test_calibration_widens_or_narrows_as_needed(np_rng: np.random.Generator) -> None:
    mean, std, true = _units(np_rng, 2000)
    assert conformal_scale(mean, std * 4, true, CAP) < 1.0 < conformal_scale(mean, std, true, CAP)


def test_finite_sample_rank_and_too_few_units() -> None:
    # scores 0..9: the ceil(11 * 0.8) = 9th smallest is 8
    assert conformal_scale(np.zeros(10), np.ones(10), np.arange(10.0), CAP) == 8.0
    assert conformal_scale(np.zeros(3), np.ones(3), np.arange(3.0), CAP) is None  # rank 4 of 3
    with pytest.raises(InputDataError, match="NaN"):
        conformal_scale(np.array([np.nan] * 5), np.ones(5), np.zeros(5), CAP)


def test_interval_is_clipped_to_the_rul_range() -> None:
    point, lower, upper = rul_interval(np.array([-5.0, 60.0, 200.0]), np.array([10.0, 10.0, 10.0]), CAP, 2.0)
    np.testing.assert_allclose(point, [0.0, 60.0, CAP])
    np.testing.assert_allclose(lower, [0.0, 40.0, 105.0])
    np.testing.assert_allclose(upper, [20.0, 80.0, CAP])
    _, lower, upper = rul_interval(np.array([60.0]), np.array([10.0]), CAP)
    np.testing.assert_allclose([lower[0], upper[0]], [60 - 12.8155, 60 + 12.8155], atol=1e-3)


def test_stored_scale_reads_only_the_task_and_level_it_was_made_for() -> None:
    extra = {"rul_intervals": {"rul:turbofan": entry(1.9, 2000)}}
    assert stored_scale(extra, "rul:turbofan") == 1.9
    assert stored_scale(extra, "rul:pump") is None
    assert stored_scale(extra, "rul:turbofan", level=0.9) is None
    assert stored_scale({}, "rul:turbofan") is None and stored_scale(None, "rul:turbofan") is None


@pytest.mark.usefixtures("one_thread")
def test_training_calibration_travels_in_the_checkpoint_to_inference(tmp_path, np_rng) -> None:
    from plantpulse.model import PlantPulseModel, TaskSpec, preset
    from plantpulse.model.moe.checkpoint import save_checkpoint
    from plantpulse.model.moe.inference import load_moe
    from plantpulse.model.moe.layers.embeddings import HashingTokenizer
    from plantpulse.model.moe.training import Batcher, TaskData, TaskSplits
    from plantpulse.model.moe.training.calibrate import calibrate_rul

    spec = TaskSpec(name="rul:pump", kind="rul", rul_cap=CAP)
    model = PlantPulseModel(preset("tiny", tasks=(spec,), capacity_factor=None, channel_vocab=("a", "b")))
    n = 60
    sensor = np_rng.normal(size=(n, 16, 2)).astype(np.float32)
    val = TaskData(name="val", task=spec, groups=np.arange(n), sensor=sensor, channels=("a", "b"),
                   targets=np_rng.uniform(0, CAP, n).astype(np.float32))
    splits = TaskSplits(val, val)
    batcher = Batcher(HashingTokenizer(model.cfg.vocab_size, model.cfg.max_text_len), model.channel_index, "cpu")
    intervals = calibrate_rul(model, [splits], batcher)
    assert set(intervals) == {"rul:pump"} and intervals["rul:pump"]["n"] == n
    plain = save_checkpoint(model, tmp_path / "plain-v1.safetensors")
    calibrated = save_checkpoint(model, tmp_path / "cal-v1.safetensors", extra={"rul_intervals": intervals})

    def interval(path):
        predictions = load_moe(path).predict_batch(sensor, ("a", "b"), "pump")
        return np.array([[p.rul_lower, p.rul_upper] for p in predictions])

    got = interval(calibrated)
    # on the units it was calibrated on, split conformal covers at least ceil((n + 1) 0.8) of n
    assert coverage(val.targets, got[:, 0], got[:, 1]) >= np.ceil((n + 1) * 0.8) / n - 1 / n
    assert not np.allclose(got, interval(plain))  # the untrained head's nominal interval is another


def test_the_larger_of_the_multipliers_over_all_units_and_below_the_cap(np_rng: np.random.Generator) -> None:
    mean, std, true = _units(np_rng, 1000)
    below = true < CAP
    # healthy units predicted at the cap: near-zero scores that would narrow the interval
    healthy = np.full(3000, CAP)
    with_healthy = (np.concatenate([mean, healthy + 1.0]), np.concatenate([std, np.ones(3000)]),
                    np.concatenate([true, healthy]))
    assert conformal_scale(*with_healthy, CAP) == conformal_scale(mean[below], std[below], true[below], CAP)
    # healthy units predicted far below the cap (a model that under-predicts them): all units decide
    under = (np.concatenate([mean, healthy - 60.0]), np.concatenate([std, np.ones(3000)]),
             np.concatenate([true, healthy]))
    scores = np.abs(np.clip(under[2], 0, CAP) - np.clip(under[0], 0, CAP)) / under[1]
    assert conformal_scale(*under, CAP) == np.sort(scores)[int(np.ceil((len(scores) + 1) * 0.8)) - 1] == 60.0


def test_below_cap_units_keep_their_coverage_whatever_the_share_of_healthy_units(np_rng: np.random.Generator) -> None:
    def fleet(n: int, healthy: int):  # degrading units, and healthy ones predicted at or above the cap
        mean, std, true = _units(np_rng, n)
        keep = true < CAP
        h_mean = CAP + np.abs(np_rng.normal(0, 3, healthy))
        return (np.concatenate([mean[keep], h_mean]), np.concatenate([std[keep], np.full(healthy, 5.0)]),
                np.concatenate([true[keep], np.full(healthy, CAP)]))

    val, test = fleet(2000, 1500), fleet(5000, 400)  # validation half healthy, the test a tenth
    degrading = test[2] < CAP
    scale = conformal_scale(*val, cap=CAP)
    _, lower, upper = rul_interval(test[0], test[1], CAP, scale)
    assert 0.77 <= coverage(test[2][degrading], lower[degrading], upper[degrading]) <= 0.83
    assert coverage(test[2], lower, upper) >= 0.78
    # calibrated on every unit, the easy healthy ones let the degrading ones fall far short of 80 %
    scores = np.abs(np.clip(val[2], 0, CAP) - np.clip(val[0], 0, CAP)) / val[1]
    everything = np.sort(scores)[int(np.ceil((len(scores) + 1) * 0.8)) - 1]
    _, lower, upper = rul_interval(test[0], test[1], CAP, everything)
    assert coverage(test[2][degrading], lower[degrading], upper[degrading]) < 0.7
    assert coverage(test[2], lower, upper) < 0.75


def test_too_few_units_below_the_cap_fall_back_to_all_units() -> None:
    true = np.array([10.0, 20.0, 30.0] + [CAP] * 7)  # 3 below the cap: rank 4 of 3 does not exist
    mean = np.array([30.0, 40.0, 50.0] + [CAP - 1.0] * 7)
    # over all 10 units the ceil(11 * 0.8) = 9th smallest score is 20
    assert conformal_scale(mean, np.ones(10), true, CAP) == 20.0
