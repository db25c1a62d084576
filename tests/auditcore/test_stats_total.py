"""Golden test of the design-weighted total (worked by hand)."""

import math

import pytest

from auditcore.stats import estimate_total, t_ppf


def test_total_and_its_t_interval_match_the_hand_worked_values():
    # Stratum A: d = 5 x4, y = 1,0,1,0; stratum B: d = 10 x2, y = 1,1. T = 10 + 20 = 30.
    # V: A's d·y = 5,0,5,0, mean 2.5, Σ(dev²) = 25, times 4/3 = 100/3; B has no spread.
    # df = 6 items - 2 strata = 4; t(0.975, 4) = 2.776445.
    total = estimate_total([5, 5, 5, 5, 10, 10], [1, 0, 1, 0, 1, 1], ["A"] * 4 + ["B"] * 2)
    assert total.estimate == pytest.approx(30)
    assert total.variance == pytest.approx(100 / 3)
    assert total.df == 4
    half = 2.776445 * math.sqrt(100 / 3)
    assert float(t_ppf(0.975, 4)) == pytest.approx(2.776445, abs=1e-6)
    assert total.lower == pytest.approx(30 - half, abs=1e-4)
    assert total.upper == pytest.approx(30 + half, abs=1e-4)
    assert (total.n, total.events) == (6, 4)


def test_a_total_never_goes_below_zero_and_an_empty_sample_is_no_data():
    total = estimate_total([50, 50, 50], [1, 0, 0], ["A"] * 3)
    assert total.lower == 0.0
    assert estimate_total([], [], []).estimate is None


def test_the_finite_population_factor_shrinks_the_variance():
    # π = 0.2 for every item: 1 - π = 0.8 on A's 100/3.
    total = estimate_total([5] * 4, [1, 0, 1, 0], ["A"] * 4, inclusion=[0.2] * 4)
    assert total.variance == pytest.approx(0.8 * 100 / 3)
