"""The fast quantile helpers and stratum codes give exactly the values of the slow paths.

auditcore.stats calls scipy.special directly (stdtrit, betaincinv, ndtri, stdtr, ndtr) instead
of the scipy.stats distribution objects, and accepts strata as dense codes; every figure on the
dashboard must stay bit-for-bit the same, so these compare with ==, not approx.
"""

import math

import numpy as np
import pytest
from scipy import stats as sps

from auditcore.stats import (
    beta_ppf,
    estimate_rate,
    norm_ppf,
    norm_sf,
    rate_ratio,
    t_ppf,
    t_sf,
)

CONFIDENCES = (0.9, 0.95, 0.99)


def same(a, b) -> bool:
    return a == b or (math.isnan(a) and math.isnan(b))


@pytest.mark.parametrize("confidence", CONFIDENCES)
def test_t_quantile_equals_scipy_stats_over_df_1_to_500(confidence):
    alpha = 1 - confidence
    for df in range(1, 501):
        for q in (1 - alpha / 2, alpha / 2):
            assert t_ppf(q, df) == sps.t.ppf(q, df), (q, df)
            assert t_ppf(q, df) == sps.t.ppf(q, df), (q, df)  # again, from the cache


def test_t_quantile_equals_scipy_stats_at_large_and_fractional_df():
    for df in (0.5, 1.5, 750, 1000, 4999, 10**5, 10**7):
        for q in (0.005, 0.025, 0.05, 0.5, 0.95, 0.975, 0.995):
            assert t_ppf(q, df) == sps.t.ppf(q, df), (q, df)


def test_t_quantile_edges_follow_scipy_stats():
    for q, df in [(0.0, 5), (1.0, 5), (0.975, 0), (0.975, -1), (math.nan, 5), (0.975, math.nan)]:
        assert same(t_ppf(q, df), sps.t.ppf(q, df)), (q, df)


@pytest.mark.parametrize("confidence", CONFIDENCES)
def test_normal_quantile_equals_scipy_stats(confidence):
    alpha = 1 - confidence
    for q in (alpha / 2, 1 - alpha / 2, alpha, 1 - alpha):
        assert norm_ppf(q) == sps.norm.ppf(q)
    for q in (0.0, 1.0, -0.5, math.nan):
        assert same(norm_ppf(q), sps.norm.ppf(q))


def test_survival_functions_equal_scipy_stats():
    for x in (0.0, 0.3, 1.96, 2.5, 8.0, 40.0, math.inf, math.nan):
        assert same(norm_sf(x), sps.norm.sf(x)), x
        for df in (1, 2, 7, 30, 499, 5000):
            assert same(t_sf(x, df), sps.t.sf(x, df)), (x, df)


def _kg_shapes():
    """(a, b) pairs as Korn-Graubard builds them, x* = n* R over a grid of n* and R."""
    for n_star in (0.01, 0.5, 1, 2, 3.3, 7, 29.5, 30, 100, 999.9, 5000, 1e6):
        for rate in (1e-9, 1e-4, 0.01, 0.05, 10 / 21, 0.5, 0.9, 0.999, 1 - 1e-9):
            x = n_star * rate
            yield x, n_star - x + 1
            yield x + 1, n_star - x


@pytest.mark.parametrize("confidence", CONFIDENCES)
def test_beta_quantile_equals_scipy_stats_over_korn_graubard_shapes(confidence):
    alpha = 1 - confidence
    for a, b in _kg_shapes():
        for q in (alpha / 2, 1 - alpha / 2):
            assert same(beta_ppf(q, a, b), sps.beta.ppf(q, a, b)), (q, a, b)


def test_beta_quantile_equals_scipy_stats_at_edge_cases():
    shapes = [
        (1, 1),
        (0.5, 0.5),
        (1e-300, 1),
        (1, 1e-300),
        (1e-10, 1e-10),
        (1e6, 1e-6),
        (1e8, 1e8),
        (0, 1),
        (1, 0),
        (-1, 2),
        (math.inf, 1),
        (1, math.inf),
        (math.nan, 1),
        (1, math.nan),
    ]
    for a, b in shapes:
        for q in (0.0, 1e-12, 0.005, 0.025, 0.05, 0.5, 0.95, 0.975, 0.995, 1.0, -0.1, 1.1):
            assert same(beta_ppf(q, a, b), sps.beta.ppf(q, a, b)), (q, a, b)


def test_beta_quantile_equals_scipy_stats_on_random_shapes():
    rng = np.random.default_rng(20261101)
    a = rng.lognormal(1.0, 2.5, 2000)
    b = rng.lognormal(2.0, 2.5, 2000)
    q = rng.choice([0.005, 0.025, 0.05, 0.95, 0.975, 0.995], 2000)
    for qi, ai, bi in zip(q.tolist(), a.tolist(), b.tolist(), strict=True):
        assert beta_ppf(qi, ai, bi) == sps.beta.ppf(qi, ai, bi), (qi, ai, bi)


def _sample(seed: int, n: int = 600):
    rng = np.random.default_rng(seed)
    strata = rng.choice([-2, 5, 9, 12, 40, 41, 300], n)  # gaps and a negative "stray" key
    strata[rng.integers(0, n)] = 77  # a single-item stratum
    weights = rng.lognormal(0, 1, n)
    z = rng.random(n) < 0.4
    y = rng.random(n) < 0.2
    return weights, z, y, strata


@pytest.mark.parametrize("seed", range(8))
def test_estimate_rate_with_codes_equals_estimate_rate_with_labels(seed):
    weights, z, y, strata = _sample(seed)
    codes = np.unique(strata, return_inverse=True)[1]  # dense codes in sorted label order
    for domain in (z, np.ones_like(z), z & (strata == 77), np.zeros_like(z), z & (strata > 9)):
        for confidence in CONFIDENCES:
            assert estimate_rate(weights, domain, y, codes, confidence) == estimate_rate(
                weights, domain, y, strata, confidence
            )
            # Text labels in the same order as the integers give the same codes and figures.
            labels = np.array([f"stratum-{v + 10:04d}" for v in strata.tolist()], dtype=object)
            assert estimate_rate(weights, domain, y, labels, confidence) == estimate_rate(
                weights, domain, y, strata, confidence
            )


@pytest.mark.parametrize("seed", range(8))
def test_rate_ratio_with_codes_equals_rate_ratio_with_labels(seed):
    weights, z, y, strata = _sample(seed)
    codes = np.unique(strata, return_inverse=True)[1]  # dense codes in sorted label order
    z2 = ~z
    assert rate_ratio(weights, z, y, z2, y, codes) == rate_ratio(weights, z, y, z2, y, strata)
    one = np.zeros_like(z)
    one[:3] = True
    assert rate_ratio(weights, one, y, z2, y, codes) == rate_ratio(weights, one, y, z2, y, strata)
