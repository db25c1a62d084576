"""Golden tests for rate estimates, Korn-Graubard intervals, agreement and the gate, by hand."""

import math

import pytest
from scipy import optimize
from scipy import stats as sps

from auditcore.stats import (
    estimate_rate,
    gate_decision,
    gwet_ac1,
    holm_adjust,
    kish_design_effect,
    korn_graubard_interval,
    krippendorff_alpha_nominal,
    mcnemar_exact_p,
    percent_agreement,
    rate_ratio,
    tango_interval,
    tango_statistic,
)

Z95 = sps.norm.ppf(0.95)

# Four strata: A (3 items, 1 event), B (2 in the domain, 1 event, plus one item outside it),
# C (a single item), D (2 items, no events).
WEIGHTS = [2, 2, 4, 1, 3, 2, 5, 2, 2]
Z = [1, 1, 1, 1, 1, 0, 1, 1, 1]
Y = [1, 0, 0, 0, 1, 1, 0, 0, 0]
STRATA = list("AAABBBCDD")


def test_rate_estimate_matches_the_hand_worked_stratified_example():
    # Z_hat = 8 + 4 + 5 + 4 = 21, sum(d z y) = 2 + 3 = 5, R = 5/21.
    # d*e = d z (y - R) / 21, in units of 1/441:
    #   A: 32, -10, -20; mean 2/3; sum of squares (94^2 + 32^2 + 62^2)/9 = 13704/9; * 3/2 = 2284
    #   B: -5, 48, 0 (outside the domain, but counted in B); mean 43/3;
    #      (58^2 + 101^2 + 43^2)/9 = 15414/9; * 3/2 = 2569
    #   C: one item -> 0; D: -10, -10 -> 0
    # V = (2284 + 2569) / 441^2 = 4853/194481 = 0.0249536.
    # n = 8, H = 4, df = 4. n_eff = (80/441) / V = 35280/4853 = 7.26973.
    # (t_7 / t_4)^2 = (2.364624 / 2.776445)^2 = 0.725347 -> n* = 5.27308, x* = n* * 5/21 = 1.25550.
    est = estimate_rate(WEIGHTS, Z, Y, STRATA)
    assert est.estimate == pytest.approx(5 / 21)
    assert est.variance == pytest.approx(4853 / 194481)
    assert (est.n, est.df, est.strata, est.events) == (8, 4, 4, 2)
    assert est.n_eff == pytest.approx(35280 / 4853)
    n_star = 35280 / 4853 * (2.364624251592784 / 2.7764451051977934) ** 2
    x_star = n_star * 5 / 21
    assert n_star == pytest.approx(5.27308, abs=1e-5)
    assert est.lower == pytest.approx(sps.beta.ppf(0.025, x_star, n_star - x_star + 1))
    assert est.upper == pytest.approx(sps.beta.ppf(0.975, x_star + 1, n_star - x_star))
    assert (est.lower, est.upper) == pytest.approx((0.011648, 0.733695), abs=1e-6)
    # Kish on the domain's weights: 8 * 67 / 21^2 = 536/441.
    assert est.deff == pytest.approx(536 / 441)
    assert est.unreliable
    # 8 respondents: too few to show as a percentage.
    assert set(est.flags) == {"small_n", "wide_interval", "wide_relative", "too_few"}
    assert est.note == "too few reviewed (n = 8)"


def test_equal_weights_give_the_clopper_pearson_form_with_n_minus_one():
    # One stratum, 20 items, 4 events: V = 20/19 * (4 * 0.8^2 + 16 * 0.2^2) / 20^2 = 0.0084211,
    # so n_eff = 0.16 / V = 19 and (t_19/t_19)^2 = 1: n* = 19, x* = 3.8.
    est = estimate_rate([1] * 20, [1] * 20, [1] * 4 + [0] * 16, ["s"] * 20)
    assert est.variance == pytest.approx(20 / 19 * 3.2 / 400)
    assert est.n_eff == pytest.approx(19)
    assert est.lower == pytest.approx(sps.beta.ppf(0.025, 3.8, 16.2))
    assert est.upper == pytest.approx(sps.beta.ppf(0.975, 4.8, 15.2))


def test_zero_events_report_an_upper_bound_instead_of_zero_percent():
    # R = 0 so n_eff = n = 12 and n* = 12: upper = Beta^-1(0.975; 1, 12) = 1 - 0.025^(1/12).
    est = estimate_rate([1] * 12, [1] * 12, [0] * 12, ["s"] * 12)
    assert est.estimate == 0.0
    assert est.lower == 0.0
    assert est.upper == pytest.approx(1 - 0.025 ** (1 / 12))
    assert est.note == "0 of 12, at most 26.5%"
    assert "zero_events" in est.flags


def test_zero_events_use_n_over_the_design_effect():
    # 12 items in one stratum, weights 1 (x6) and 3 (x6): Kish deff = 12 * 60 / 24^2 = 1.25,
    # so n_eff = 12 / 1.25 = 9.6; df = 11 = n - 1, so n* = 9.6: upper = 1 - 0.025^(1/9.6).
    est = estimate_rate([1] * 6 + [3] * 6, [1] * 12, [0] * 12, ["s"] * 12)
    assert est.deff == pytest.approx(1.25)
    assert est.upper == pytest.approx(1 - 0.025 ** (1 / 9.6))
    assert est.note == f"0 of 12, at most {1 - 0.025 ** (1 / 9.6):.1%}"
    assert est.n_eff == pytest.approx(9.6)


@pytest.mark.parametrize(
    ("n", "events", "too_few"),
    [(9, 5, True), (10, 5, False), (40, 1, True), (40, 2, True), (40, 3, False), (40, 0, False)],
)
def test_small_domains_say_too_few_reviewed(n, events, too_few):
    est = estimate_rate([1] * n, [1] * n, [1] * events + [0] * (n - events), ["s"] * n)
    assert est.too_few is too_few
    assert (est.note == f"too few reviewed (n = {n})") is too_few


def test_the_finite_population_factor_shrinks_the_variance_item_by_item():
    # Stratum A: N = 10, 5 drawn (π = 0.5, d = 2), y = 1, 1, 0, 0, 0;
    # stratum B: N = 20, 5 drawn (π = 0.25, d = 4), y = 1, 0, 0, 0, 0.
    # Z = 30, R = (2 + 2 + 4) / 30 = 4/15. d·e = d (y - R) / 30:
    #   A: 2 (11/15) / 30 (x2), 2 (-4/15) / 30 (x3): mean 2 (2/5 - 4/15) / 30 = 2 (2/15) / 30;
    #      deviations ±: (2/30)(11/15 - 2/15) = (2/30)(9/15) twice, (2/30)(-6/15) three times
    #      -> Σ = (2/30)² (2 · 81 + 3 · 36) / 225 = (2/30)² · 270/225
    #   B: 4 (11/15) / 30 once, 4 (-4/15) / 30 four times: mean (4/30)(-1/15);
    #      deviations (4/30)(12/15) once, (4/30)(-3/15) four times -> (4/30)² · 180/225
    # V = (1 - 0.5) · 5/4 · (2/30)² · 270/225 + (1 - 0.25) · 5/4 · (4/30)² · 180/225.
    weights = [2] * 5 + [4] * 5
    y = [1, 1, 0, 0, 0, 1, 0, 0, 0, 0]
    strata = list("AAAAABBBBB")
    inclusion = [0.5] * 5 + [0.25] * 5
    without = (2 / 30) ** 2 * 270 / 225 * 5 / 4 + (4 / 30) ** 2 * 180 / 225 * 5 / 4
    with_fpc = 0.5 * (2 / 30) ** 2 * 270 / 225 * 5 / 4 + 0.75 * (4 / 30) ** 2 * 180 / 225 * 5 / 4
    assert estimate_rate(weights, [1] * 10, y, strata).variance == pytest.approx(without)
    est = estimate_rate(weights, [1] * 10, y, strata, inclusion=inclusion)
    assert est.estimate == pytest.approx(4 / 15)
    assert est.variance == pytest.approx(with_fpc)
    # n* is not capped at n (see CAP_N_STAR_AT_N): KG from n_eff = R(1-R)/V, df = 10 - 2.
    n_star = (4 / 15) * (11 / 15) / with_fpc * (sps.t.ppf(0.975, 9) / sps.t.ppf(0.975, 8)) ** 2
    x = n_star * 4 / 15
    assert est.lower == pytest.approx(sps.beta.ppf(0.025, x, n_star - x + 1))
    assert est.upper == pytest.approx(sps.beta.ppf(0.975, x + 1, n_star - x))
    assert est.n_eff <= est.n


def test_korn_graubard_matches_r_survey_svyciprop_beta():
    # svyciprop(method = "beta") with svymean's p = 0.3, var = 0.002, n = 40 rows, degf = 30:
    # n.eff = 0.21 / 0.002 = 105, times (qt(0.025, 39) / qt(0.025, 30))^2, no truncation.
    n_eff = 105 * (sps.t.ppf(0.025, 39) / sps.t.ppf(0.025, 30)) ** 2
    expected = (
        sps.beta.ppf(0.025, n_eff * 0.3, n_eff * 0.7 + 1),
        sps.beta.ppf(0.975, n_eff * 0.3 + 1, n_eff * 0.7),
    )
    assert korn_graubard_interval(0.3, 0.002, 40, 30) == pytest.approx(expected)


def test_a_single_item_stratum_adds_no_variance():
    # Each domain item sits alone in its stratum: every stratum contributes 0, and df = 2 - 2 = 0.
    est = estimate_rate([3, 1], [1, 1], [1, 0], ["A", "B"])
    assert est.estimate == pytest.approx(0.75)
    assert est.variance == 0.0
    assert est.df == 0
    assert "no_df" in est.flags


def test_a_domain_without_sampled_items_is_no_data_not_zero():
    est = estimate_rate([1, 2], [0, 0], [0, 1], ["A", "A"])
    assert est.estimate is None
    assert est.lower is None
    assert est.note == "no data"
    assert est.unreliable


def test_a_large_precise_estimate_is_not_flagged():
    est = estimate_rate([1] * 400, [1] * 400, [1] * 200 + [0] * 200, ["s"] * 400)
    assert not est.unreliable
    assert est.flags == ()


def test_korn_graubard_with_zero_variance_falls_back_to_n_over_deff():
    lower, upper = korn_graubard_interval(1.0, 0.0, 10, 9)
    assert lower == pytest.approx(0.025 ** (1 / 10))  # Beta^-1(0.025; 10, 1)
    assert upper == 1.0


def test_rate_ratio_and_difference_match_the_binomial_formulas():
    # One stratum, d = 1: domain 1 has 4 of 10, domain 2 has 2 of 10.
    # Var(log RR) = 20/19 * [(1-p1)/(n1 p1) + (1-p2)/(n2 p2)] = 20/19 * (0.15 + 0.4);
    # Var(RD) = 20/19 * (0.024 + 0.016); df = 20 - 1 = 19, t_19 = 2.093024.
    z1 = [1] * 10 + [0] * 10
    y1 = [1] * 4 + [0] * 16
    z2 = [0] * 10 + [1] * 10
    y2 = [0] * 10 + [1] * 2 + [0] * 8
    cmp = rate_ratio([1] * 20, z1, y1, z2, y2, ["s"] * 20)
    se_log = math.sqrt(20 / 19 * 0.55)
    se_diff = math.sqrt(20 / 19 * 0.04)
    t19 = 2.0930240544083087
    assert cmp.ratio == pytest.approx(2.0)
    assert cmp.ratio_lower == pytest.approx(2 * math.exp(-t19 * se_log))  # 0.40681
    assert cmp.ratio_upper == pytest.approx(2 * math.exp(t19 * se_log))  # 9.8326
    assert cmp.difference == pytest.approx(0.2)
    assert cmp.difference_lower == pytest.approx(0.2 - t19 * se_diff)
    assert cmp.p_value == pytest.approx(2 * sps.t.sf(0.2 / se_diff, 19))  # 0.34197
    assert cmp.df == 19


def test_rate_ratio_is_undefined_when_either_rate_is_zero():
    cmp = rate_ratio([1] * 4, [1, 1, 0, 0], [1, 0, 0, 0], [0, 0, 1, 1], [0, 0, 0, 0], ["s"] * 4)
    assert cmp.ratio is None
    assert cmp.difference == pytest.approx(0.5)
    reverse = rate_ratio([1] * 4, [0, 0, 1, 1], [0, 0, 0, 0], [1, 1, 0, 0], [1, 0, 0, 0], ["s"] * 4)
    assert reverse.ratio is None and reverse.ratio_lower is None


def test_holm_adjusts_in_step_down_order():
    # sorted: .005*4 = .02, .01*3 = .03, .03*2 = .06, .04*1 = .04 -> running max .06.
    assert holm_adjust([0.01, 0.04, 0.03, 0.005]) == pytest.approx([0.03, 0.06, 0.06, 0.02])


def test_krippendorff_alpha_for_a_small_table_by_hand():
    # Pairable units: (h,h), (h,d), (d,d), (h,h,d); the single verdict is dropped.
    # n_h = 5, n_d = 4, n = 9; sum n_uh n_ud / (m_u - 1) = 1/1 + 2/2 = 2.
    # alpha = 1 - 8 * 2 / (5 * 4) = 0.2.
    units = [["h", "h"], ["h", "d"], ["d", "d"], ["h", "h", "d"], ["h"]]
    assert krippendorff_alpha_nominal(units) == pytest.approx(0.2)


def test_krippendorff_alpha_matches_the_published_four_coder_example():
    # Krippendorff (2011), "Computing Krippendorff's alpha-reliability": nominal alpha = 0.743.
    units = [
        [1, 1, None, 1],
        [2, 2, 3, 2],
        [3, 3, 3, 3],
        [3, 3, 3, 3],
        [2, 2, 2, 2],
        [1, 2, 3, 4],
        [4, 4, 4, 4],
        [1, 1, 2, 1],
        [2, 2, 2, 2],
        [None, 5, 5, 5],
        [None, None, 1, 1],
        [None, 3, None, None],
    ]
    assert krippendorff_alpha_nominal(units) == pytest.approx(0.743, abs=5e-4)


def test_alpha_collapses_but_ac1_holds_when_one_verdict_dominates():
    # 200 items, two reviewers: 154 both help, 15 + 15 split, 16 both decline -> 85% agreement,
    # "help" share (2*154 + 30) / 400 = 84.5%.
    # alpha = 1 - 399 * 30 / (338 * 62) = 0.42880;
    # AC1: p_e = 2 * 0.845 * 0.155 = 0.26195, (0.85 - 0.26195) / 0.73805 = 0.79676.
    units = [["h", "h"]] * 154 + [["h", "d"]] * 15 + [["d", "h"]] * 15 + [["d", "d"]] * 16
    assert percent_agreement(units) == pytest.approx(0.85)
    assert krippendorff_alpha_nominal(units) == pytest.approx(1 - 399 * 30 / (338 * 62))
    assert krippendorff_alpha_nominal(units) == pytest.approx(0.43, abs=0.005)
    assert gwet_ac1(units) == pytest.approx(0.79676, abs=1e-5)


def test_at_exactly_ninety_percent_prevalence_alpha_is_lower_still():
    # 165 / 15 + 15 / 5: share 90%. alpha = 1 - 399 * 30 / (360 * 40) = 0.16875;
    # AC1 = (0.85 - 2 * 0.9 * 0.1) / (1 - 0.18) = 0.81707.
    units = [["h", "h"]] * 165 + [["h", "d"]] * 15 + [["d", "h"]] * 15 + [["d", "d"]] * 5
    assert krippendorff_alpha_nominal(units) == pytest.approx(0.16875)
    assert gwet_ac1(units) == pytest.approx(0.67 / 0.82)


def test_multi_rater_ac1_and_agreement_by_hand():
    # Units (h,h,h) and (h,h,d): pair agreement 1 and (2*1 + 0) / 6 = 1/3 -> p_a = 2/3.
    # pi_h = (1 + 2/3) / 2 = 5/6, p_e = 2 * 5/6 * 1/6 = 5/18; AC1 = (2/3 - 5/18) / (13/18) = 7/13.
    units = [["h", "h", "h"], ["h", "h", "d"]]
    assert percent_agreement(units) == pytest.approx(2 / 3)
    assert gwet_ac1(units) == pytest.approx(7 / 13)


def test_agreement_is_undefined_without_pairable_units():
    assert krippendorff_alpha_nominal([["h"], []]) is None
    assert percent_agreement([["h"]]) is None
    assert gwet_ac1([]) is None
    assert krippendorff_alpha_nominal([["h", "h"]]) is None  # one label: no expected disagreement


def test_mcnemar_exact_p_by_hand():
    # P(Bin(9, 1/2) >= 7) = (36 + 9 + 1) / 512; P(Bin(5, 1/2) >= 5) = 1/32.
    assert mcnemar_exact_p(7, 2) == pytest.approx(46 / 512)
    assert mcnemar_exact_p(5, 0) == pytest.approx(1 / 32)
    assert mcnemar_exact_p(0, 3) == 1.0


def test_tango_bound_with_no_discordant_pairs_has_a_closed_form():
    # n01 = n10 = 0: q = 0 and T = -sqrt(K d / (1 - d)); T = -z at d = z^2 / (K + z^2).
    assert tango_interval(0, 0, 500)[1] == pytest.approx(Z95**2 / (500 + Z95**2), abs=1e-9)


def test_tango_statistic_at_zero_is_the_mcnemar_score():
    assert tango_statistic(0.0, 12, 4, 300) == pytest.approx((12 - 4) / math.sqrt(16))


def _score_with_numerical_mle(d0: float, n01: int, n10: int, k: int) -> float:
    # Independent check: maximise the multinomial likelihood in p10 under p01 - p10 = d0.
    def negloglik(p10: float) -> float:
        return -(
            n01 * math.log(p10 + d0)
            + n10 * math.log(p10)
            + (k - n01 - n10) * math.log(1 - 2 * p10 - d0)
        )

    lo, hi = max(0.0, -d0) + 1e-12, (1 - d0) / 2 - 1e-12
    p10 = optimize.minimize_scalar(
        negloglik, bounds=(lo, hi), method="bounded", options={"xatol": 1e-13}
    ).x
    return (n01 - n10 - k * d0) / math.sqrt(k * (2 * p10 + d0 * (1 - d0)))


@pytest.mark.parametrize(("n01", "n10", "k"), [(7, 2, 50), (25, 5, 500), (3, 9, 200)])
def test_tango_bounds_solve_the_score_equation(n01, n10, k):
    lower, upper = tango_interval(n01, n10, k)
    assert lower < (n01 - n10) / k < upper
    assert _score_with_numerical_mle(upper, n01, n10, k) == pytest.approx(-Z95, abs=1e-4)
    assert _score_with_numerical_mle(lower, n01, n10, k) == pytest.approx(Z95, abs=1e-4)


def test_gate_fails_a_real_regression():
    # 25 new refusals against 5 fixed in 500 prompts: delta = 4 points, p = P(Bin(30, .5) >= 25).
    result = gate_decision(25, 5, 500)
    assert result.decision == "FAIL"
    assert result.delta == pytest.approx(0.04)
    assert result.upper >= 0.02
    assert result.p_value == pytest.approx(sps.binom.sf(24, 30, 0.5))


def test_gate_passes_an_identical_candidate():
    result = gate_decision(0, 0, 500)
    assert result.decision == "PASS"
    assert result.upper == pytest.approx(0.00538, abs=1e-5)
    assert result.warning is None


def test_gate_is_inconclusive_with_too_few_prompts():
    # Same zero churn, K = 100: bound z^2 / (100 + z^2) = 2.6% >= 2% and p = 1.
    result = gate_decision(0, 0, 100)
    assert result.decision == "INCONCLUSIVE"
    assert result.upper == pytest.approx(Z95**2 / (100 + Z95**2), abs=1e-9)


def test_gate_passes_a_small_significant_regression_with_a_warning():
    result = gate_decision(12, 1, 2000)
    assert result.decision == "PASS"
    assert result.p_value < 0.05
    assert "refuses more" in result.warning


def test_gate_rejects_impossible_counts():
    with pytest.raises(ValueError, match="n01"):
        gate_decision(60, 50, 100)


def test_an_unlabelled_item_inside_the_domain_is_refused():
    with pytest.raises(ValueError, match="unsure"):
        estimate_rate([1, 1], [1, 1], [1, math.nan], ["A", "A"])
    # Outside the domain a missing label is fine: it only counts towards its stratum.
    assert estimate_rate([1, 1], [1, 0], [1, math.nan], ["A", "A"]).estimate == 1.0


def test_kish_design_effect_is_one_for_equal_weights_and_grows_with_spread():
    # n * sum(d^2) / sum(d)^2 = 4 * 22 / 64 = 1.375.
    assert kish_design_effect([1, 1, 2, 4]) == pytest.approx(1.375)
    assert kish_design_effect([3, 3, 3]) == pytest.approx(1.0)
