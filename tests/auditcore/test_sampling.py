"""Golden tests for priority sampling, allocation and planning figures, worked by hand."""

import hashlib
import math
import time
from datetime import UTC, date, datetime

import numpy as np
import pytest
from scipy import stats as sps

from auditcore.sampling import (
    EPSILON,
    combined_inclusion,
    draw_stratum,
    expected_half_width,
    neyman_allocation,
    priority_key,
    record_u,
    size_measure,
    size_measure_deff,
    size_measures,
    spread_floor,
    stratum_key,
)


def test_record_u_is_a_pinned_keyed_hash_of_record_and_salt():
    # Stored keys depend on this exact mapping; changing it would silently reorder every sample.
    # Independent recomputation: top 53 bits of an 8-byte keyed BLAKE2b, plus 1, over 2^53.
    digest = hashlib.blake2b(b"req_1", key=b"salt", digest_size=8).digest()
    expected = ((int.from_bytes(digest, "big") >> 11) + 1) / 2**53
    assert record_u("req_1", "salt") == expected == 0.6455264293764953


def test_record_u_changes_with_the_salt_and_stays_in_the_unit_interval():
    assert record_u("req_1", "round-1") != record_u("req_1", "round-2")
    values = np.array([record_u(f"req_{i}", "round-1") for i in range(20_000)])
    assert values.min() > 0
    assert values.max() <= 1
    assert sps.kstest(values, "uniform").pvalue > 0.001


@pytest.mark.parametrize("salt", ["", "x" * 65])
def test_record_u_rejects_a_missing_or_overlong_salt(salt):
    with pytest.raises(ValueError, match="salt"):
        record_u("req_1", salt)


def test_size_measure_follows_the_kind_and_is_floored():
    assert size_measure(3.2, "uniform") == 1.0
    assert size_measure(3.2, "impact") == 3.2
    assert size_measure(4.0, "sqrt_impact") == 2.0
    assert size_measure(4.0, "session") == 4.0  # the session importance, as it is
    assert size_measure(0.0, "impact") == EPSILON
    assert size_measure(0.0, "sqrt_impact") == EPSILON


def test_size_measure_rejects_unknown_kinds_and_negative_weights():
    with pytest.raises(ValueError, match="unknown size measure"):
        size_measure(1.0, "pps")
    with pytest.raises(ValueError, match="impact weight"):
        size_measure(-1.0, "impact")
    with pytest.raises(ValueError, match="impact weight"):
        size_measure(math.nan, "sqrt_impact")


def test_priority_key_divides_u_by_the_size():
    assert priority_key(0.5, 2.0) == 0.25
    assert priority_key(np.array([0.5, 0.3]), np.array([2.0, 3.0])).tolist() == pytest.approx(
        [0.25, 0.1]
    )


def test_stratum_key_is_stable_and_escapes_the_separator():
    assert stratum_key(date(2026, 11, 20), "finance", "refusal", "m-1") == (
        "2026-11-20|finance|refusal|m-1"
    )
    assert stratum_key("2026-11-20", "finance", "refusal", "m|2", "chat") == (
        "2026-11-20|finance|refusal|m%7C2|chat"
    )
    assert stratum_key("2026-11-20", "finance", "refusal", "m%7C2") == (
        "2026-11-20|finance|refusal|m%257C2"
    )
    with pytest.raises(TypeError):
        stratum_key(datetime(2026, 11, 20, tzinfo=UTC), "finance", "refusal", "m-1")


def test_draw_stratum_takes_the_smallest_keys_with_tau_and_pi_worked_by_hand():
    # keys sorted: 0.10 (#1), 0.20 (#3), 0.30 (#0), ...; n = 2 takes #1 and #3, tau = 0.30.
    # pi(#1) = min(1, 2 * 0.30) = 0.6; pi(#3) = min(1, 4 * 0.30) = 1.
    draw = draw_stratum([0.30, 0.10, 0.50, 0.20, 0.40], [1, 2, 1, 4, 0.5], 2)
    assert draw.indices.tolist() == [1, 3]
    assert draw.tau == 0.30
    assert draw.pi.tolist() == pytest.approx([0.6, 1.0])
    assert draw.population == 5


@pytest.mark.parametrize("n", [5, 7])
def test_draw_stratum_takes_everything_when_the_quota_covers_the_stratum(n):
    draw = draw_stratum([0.30, 0.10, 0.50, 0.20, 0.40], [1, 2, 1, 4, 0.5], n)
    assert draw.indices.tolist() == [1, 3, 0, 4, 2]
    assert draw.tau is None
    assert draw.pi.tolist() == [1.0] * 5


def test_draw_stratum_of_a_million_records_is_fast():
    rng = np.random.default_rng(1)
    sizes = rng.lognormal(0, 1, 1_000_000)
    keys = (1 - rng.random(sizes.size)) / sizes
    start = time.perf_counter()
    draw = draw_stratum(keys, sizes, 5_000)
    assert time.perf_counter() - start < 1.0
    assert draw.indices.size == 5_000
    assert keys[draw.indices].max() < draw.tau == np.partition(keys, 5_000)[5_000]


def test_neyman_allocation_respects_floors_and_rounds_by_largest_remainder():
    # scores N*sqrt(P(1-P)): 400*0.5 = 200, 300*0.4 = 120, 50*sqrt(0.1*0.9) = 15 (P floored),
    # 1*0.5. Minimums: 0, 0 -> 2, 2; floor 30; N = 1 caps its 2 at 1. Budget 100: c*15 < 30 and
    # c*0.5 < 1, so 100 - 31 = 69 splits 200:120 -> 43.125 and 25.875 -> 43 + 25, and the one
    # unit left goes to the larger remainder (.875): [43, 26, 30, 1].
    strata = [(400, 0.5), (300, 0.2), (50, 0.0), (1, 0.5)]
    assert neyman_allocation(strata, [0, 0, 30, 0], 100) == [43, 26, 30, 1]


def test_neyman_allocation_caps_a_stratum_at_its_size_and_moves_the_rest():
    # scores 20*0.5 = 10 and 100*0.3 = 30: c = 100/40 = 2.5 gives 25 > N = 20, so the first is
    # capped at 20 and the second takes the remaining 80.
    assert neyman_allocation([(20, 0.5), (100, 0.1)], None, 100) == [20, 80]


def test_neyman_allocation_takes_everything_when_the_budget_exceeds_the_population():
    assert neyman_allocation([(3, 0.5), (10, 0.5), (0, 0.5)], None, 50) == [3, 10, 0]


def test_neyman_allocation_exceeds_the_budget_only_to_honour_floors():
    # Minimums 10, 20, 0 (empty), 2 sum to 32 > budget 20, so every stratum gets its minimum.
    strata = [(1000, 0.5), (100, 0.02), (0, 0.3), (5, 0.3)]
    assert neyman_allocation(strata, [10, 20, 10, 0], 20) == [10, 20, 0, 2]
    # With budget 100: 100 - 22 = 78 goes to the big stratum (c*30 < 20, c*2.29 < 2).
    assert neyman_allocation(strata, [10, 20, 10, 0], 100) == [78, 20, 0, 2]


def test_neyman_allocation_sums_exactly_to_the_budget():
    rng = np.random.default_rng(3)
    strata = [
        (int(s), float(p)) for s, p in zip(rng.integers(0, 500, 40), rng.random(40), strict=True)
    ]
    alloc = neyman_allocation(strata, [5] * 40, 731)
    assert sum(alloc) == 731
    assert all(a <= s for a, (s, _) in zip(alloc, strata, strict=True))
    assert all(a >= min(s, 5) for a, (s, _) in zip(alloc, strata, strict=True))


def test_expected_half_width_applies_the_finite_population_correction():
    # 1.959964 * sqrt(0.16 / 246) = 1.959964 * 0.0255031 = 0.0499851.
    assert expected_half_width(246) == pytest.approx(0.0499851, abs=1e-7)
    # fpc = (1000 - 246) / 999 = 0.754755; sqrt = 0.868766 -> 0.0434254.
    assert expected_half_width(246, N=1000) == pytest.approx(0.0434254, abs=1e-7)
    assert expected_half_width(50, N=50) == 0.0
    assert expected_half_width(0) == math.inf


@pytest.mark.parametrize(
    ("pi_first", "tau_first", "tau_combined", "expected"),
    [
        (0.2, 0.1, 0.25, 0.5),  # x = 2: π = 2·0.25
        (0.6, 0.1, 0.25, 1.0),  # x = 6: certain in the combined draw
        (1.0, 0.1, 0.25, 1.0),  # certain already
        (1.0, None, None, 1.0),  # the first round took its stratum whole
        (0.3, 0.1, None, 1.0),  # the combined draw took the stratum whole
    ],
)
def test_combined_inclusion_extends_the_first_rounds_threshold(
    pi_first, tau_first, tau_combined, expected
):
    assert combined_inclusion(pi_first, tau_first, tau_combined) == pytest.approx(expected)


@pytest.mark.parametrize(
    ("total", "sizes", "expected"),
    [
        (10, [30, 10], [8, 2]),  # 7.5 / 2.5: the tie on the remainder goes to the earlier stratum
        (20, [3, 100], [1, 19]),
        (50, [3, 10], [3, 10]),  # capped at N
        (10, [5, 0, 5], [5, 0, 5]),
        (6, [1, 100, 100], [0, 3, 3]),  # 0.03 / 2.985 / 2.985: remainders go to the larger
        (0, [4, 4], [0, 0]),
    ],
)
def test_a_quota_is_spread_over_its_strata_in_proportion_to_n(total, sizes, expected):
    assert spread_floor(total, sizes) == expected


def test_size_measure_design_effect_from_impact_sums():
    # w = 1, 1, 1, 5: N·Σw²/(Σw)² = 4·28/64 = 1.75
    assert size_measure_deff("uniform", 4, 8.0, 28.0) == 1.0
    assert size_measure_deff("impact", 4, 8.0, 28.0) == pytest.approx(1.75)
    assert size_measure_deff("sqrt_impact", 4, 8.0, 28.0) == pytest.approx(1.75**0.25)


@pytest.mark.parametrize("kind", ["uniform", "impact", "sqrt_impact", "session"])
def test_size_measures_of_an_array_match_the_size_measure_of_each_record(kind):
    weights = np.array([0.0, 0.25, 1.0, 7.5])
    expected = [size_measure(float(w), kind) for w in weights]
    assert size_measures(weights, kind).tolist() == pytest.approx(expected)
