"""Operating-regime normalisation: regimes chosen from the data, float64, constants dropped."""

from __future__ import annotations

import numpy as np
import pytest

from plantpulse.model.moe.normalize import output_channels, standardise
from plantpulse.model.moe.regimes import choose_regimes, fit_normalizer

CHANNELS = ("setting_1", "setting_2", "s_1", "s_2", "s_3")
SETTINGS = ("setting_1", "setting_2")


def _rows(rng: np.random.Generator, points: np.ndarray, n: int = 1200) -> np.ndarray:
    """Settings near ``points`` (K, 2); s_1 constant 518.67; s_2 depends on the regime; s_3 noise."""
    which = rng.integers(0, len(points), n)
    settings = points[which] + rng.normal(scale=1e-3, size=(n, 2))
    s1 = np.full(n, 518.67)
    s2 = 100.0 * which + rng.normal(size=n)
    s3 = rng.normal(loc=5.0, size=n)
    return np.column_stack([settings, s1, s2, s3])


def test_one_regime_when_settings_are_noise(np_rng):
    k, centers, _ = choose_regimes(_rows(np_rng, np.array([[0.0, 0.0]]))[:, :2])
    assert k == 1 and centers.shape == (1, 2)


@pytest.mark.parametrize("k", [2, 3, 6])
def test_k_regimes_when_settings_form_k_clusters(np_rng, k):
    points = np_rng.uniform(-40, 40, size=(k, 2))
    assert choose_regimes(_rows(np_rng, points)[:, :2])[0] == k


def test_constant_settings_do_not_count():
    settings = np.column_stack([np.full(50, 100.0), np.full(50, 0.5)])
    assert choose_regimes(settings)[0] == 1


def test_constant_channel_is_dropped_and_recorded(np_rng):
    stats = fit_normalizer(_rows(np_rng, np.array([[0.0, 0.0]])), CHANNELS, SETTINGS)
    assert stats["regimes"] == 1 and "conditions" not in stats
    assert stats["dropped"] == ["s_1"] and "s_1" not in stats["channels"]
    assert output_channels(CHANNELS, stats) == ("setting_1", "setting_2", "s_2", "s_3")


def test_float64_statistics_leave_a_large_constant_exactly_constant(np_rng):
    """In float32 the mean of 518.67 repeated is off by ~1e-5, which a 1e-6 std guard turns into
    values of order 10; the channel must instead be dropped and the others be exact."""
    rows = _rows(np_rng, np.array([[0.0, 0.0]])).astype(np.float32)
    stats = fit_normalizer(rows, CHANNELS, SETTINGS)
    z = standardise(rows, CHANNELS, stats)
    assert z.shape == (len(rows), 4) and np.isfinite(z).all()
    np.testing.assert_allclose(z.mean(0), 0, atol=1e-5)
    np.testing.assert_allclose(z.std(0), 1, atol=1e-4)


def test_per_regime_statistics_remove_the_regime_level(np_rng):
    points = np.array([[0.0, 0.0], [20.0, 0.7], [42.0, 0.84]])
    rows = _rows(np_rng, points)
    stats = fit_normalizer(rows, CHANNELS, SETTINGS)
    assert stats["regimes"] == 3 and stats["conditions"]["by"] == list(SETTINGS)
    z = standardise(rows, CHANNELS, stats)
    s2 = z[:, output_channels(CHANNELS, stats).index("s_2")]
    assert abs(s2.mean()) < 0.05 and 0.9 < s2.std() < 1.1  # the 100-per-regime steps are gone
    assert "s_1" in stats["dropped"]


def test_a_table_of_constants_is_refused():
    from plantpulse.data.core.errors import InputDataError

    with pytest.raises(InputDataError, match="every channel"):
        fit_normalizer(np.ones((10, 2)), ("a", "b"))
