"""Golden tests: a small hand-built round whose estimates were worked out by hand.

The round (tests/auditcore/estimates_support.golden_strata):
  A  medical/refusal,          N=20: 4 labelled items of weight 5 (help, help, decline, decline)
                                     plus one unsure item (excluded, counted)
  B  medical/compliance,       N=80: 2 labelled items of weight 40 (help, help; the gateway
                                     replaced the first with a refusal) plus one pending item
  C  finance/partial_refusal,  N=1:  1 item of weight 1 (decline) — a single-item stratum
  D  security/refusal:               drawn, nothing sampled — a domain with no data
  and one gold item (never counted).
"""

import math

import pytest
from scipy import stats as sps

from auditcore.selectors import estimates as sel
from tests.auditcore.estimates_support import build_round, golden_strata

pytestmark = pytest.mark.django_db


@pytest.fixture
def golden():
    return sel.round_estimates(build_round(golden_strata()))


def kg(rate, n, n_eff, df):
    """Korn-Graubard from hand-derived n_eff and df (the beta quantiles are the only lookup)."""
    ratio = (sps.t.ppf(0.975, n - 1) / sps.t.ppf(0.975, df)) ** 2
    n_star = min(n, n_eff * ratio)
    x = n_star * rate
    lower = 0.0 if rate == 0 else sps.beta.ppf(0.025, x, n_star - x + 1)
    upper = sps.beta.ppf(0.975, x + 1, n_star - x)
    return lower, upper


def test_false_refusal_rate_among_refusals_matches_the_hand_calculation(golden):
    # z: A's 4 items (d=5) and C's one (d=1); y: A's two "help". Z = 21, R = 10/21.
    # d·e: A help 5(1-10/21)/21 = 55/441, A decline -50/441, C -10/441.
    # Stratum A: mean 2.5/441, squares 4 · 52.5² / 441², × 4/3 -> V = 14700/194481; C alone: 0.
    # n = 5, H = 2, df = 3, n_eff = (10/21)(11/21) / V = 3.3.
    est = golden.headline.rates["frr_refusals"]
    assert est.estimate == pytest.approx(10 / 21)
    assert est.variance == pytest.approx(14700 / 194481)
    assert (est.n, est.df, est.strata, est.events) == (5, 3, 2, 2)
    assert est.n_eff == pytest.approx(3.3)
    lower, upper = kg(10 / 21, 5, 3.3, 3)
    assert (est.lower, est.upper) == (pytest.approx(lower), pytest.approx(upper))
    assert est.unreliable and "small_n" in est.flags
    # Kish deff of weights 5,5,5,5,1: n Σd² / (Σd)² = 5 · 101 / 441.
    assert est.deff == pytest.approx(505 / 441)


def test_true_refusal_rate_is_the_complement_among_refusals(golden):
    est = golden.headline.rates["trr_refusals"]
    assert est.estimate == pytest.approx(11 / 21)
    assert est.variance == pytest.approx(14700 / 194481)


def test_false_refusal_rate_among_benign_traffic_matches_the_hand_calculation(golden):
    # z: A's two "help" (d=5) and B's two (d=40): Z = 90; y: model refused (A) -> R = 10/90.
    # d·e: A help 5(1 - 1/9)/90 = 4/81, A decline 0; B -4/81 each (stratum deviation 0).
    # Stratum A: values 4/81, 4/81, 0, 0 -> squares 4·(2/81)², × 4/3 -> V = 64/19683.
    # n = 4, H = 2, df = 2, n_eff = (1/9)(8/9) / V = 30.375.
    est = golden.headline.rates["frr_benign"]
    assert est.estimate == pytest.approx(1 / 9)
    assert est.variance == pytest.approx(64 / 19683)
    assert est.n_eff == pytest.approx(30.375)
    assert (est.n, est.df) == (4, 2)
    lower, upper = kg(1 / 9, 4, 30.375, 2)
    assert (est.lower, est.upper) == (pytest.approx(lower), pytest.approx(upper))


def test_a_rate_with_zero_events_says_at_most(golden):
    # Missed harm: z = B's two complied items, no "decline": R = 0, V = 0, n_eff = n = 2, df = 1,
    # upper = Beta⁻¹(0.975; 1, 2) = 1 - 0.025^(1/2).
    est = golden.headline.rates["missed_harm"]
    assert est.estimate == 0
    assert est.lower == 0
    assert est.upper == pytest.approx(1 - math.sqrt(0.025))
    assert est.note == "0 of 2, at most 84.2%"
    assert "zero_events" in est.flags


def test_unsure_pending_and_gold_items_are_excluded_and_counted(golden):
    h = golden.headline
    assert (h.sampled, h.labelled, h.unsure, h.pending, h.gold) == (9, 7, 1, 1, 1)


def test_observed_and_served_refusal_shares(golden):
    h = golden.headline
    # StratumCount: 20 refusals + 1 partial of 101.
    assert (h.population.interactions, h.population.refused) == (101, 21)
    assert h.population.share == pytest.approx(21 / 101)
    # Over all 9 sampled items (weights 5×5, 3×40, 1): Σd = 146; model refused 26.
    assert h.model_refused_share.estimate == pytest.approx(26 / 146)
    # The gateway replaced one complied answer (d=40) with a refusal.
    assert h.served_refused_share.estimate == pytest.approx(66 / 146)
    assert h.gateway_added_share.estimate == pytest.approx(40 / 146)
    # At the served layer that item counts as a refusal: benign refused = (10 + 40) / 90.
    assert h.served_rates["frr_benign"].estimate == pytest.approx(50 / 90)


def test_breakdowns_show_no_data_for_a_category_without_items(golden):
    rows = {r.value: r for r in golden.breakdowns["category"]}
    assert set(rows) == {"medical", "finance", "security"}
    security = rows["security"].rates["frr_refusals"]
    assert security.estimate is None and security.note == "no data"
    # Finance: one item, one stratum -> df 0, estimate 1 of 1 declined.
    finance = rows["finance"].rates["trr_refusals"]
    assert (finance.estimate, finance.n, finance.df) == (1.0, 1, 0)
    assert "no_df" in finance.flags
    # Medical among refusals: only stratum A -> 10/20, V from A with Z = 20.
    medical = rows["medical"].rates["frr_refusals"]
    assert medical.estimate == pytest.approx(0.5)
    # d·e = 5(±0.5)/20 = ±1/8, mean 0, squares 4/64, × 4/3 -> 1/12.
    assert medical.variance == pytest.approx(1 / 12)
    assert rows["medical"].unsure == 1


def test_breakdown_by_segment_and_surface(golden):
    segments = {r.value: r for r in golden.breakdowns["user_segment"]}
    assert segments["non_native_en"].rates["frr_benign"].estimate == pytest.approx(1.0)
    assert segments["general"].rates["frr_benign"].estimate == pytest.approx(0.0)
    assert [r.value for r in golden.breakdowns["surface"]] == ["chat"]


def test_classifier_validation_counts_matches_per_stratum(reviewer):
    from django.utils import timezone

    from auditcore.models import RoundItem, Verdict

    audit_round = build_round(golden_strata())
    items = list(RoundItem.objects.filter(round=audit_round, is_gold=False).order_by("id"))
    observed = ["refusal", "compliance", "refusal", "partial_refusal"]  # A's first four
    for item, label in zip(items, observed, strict=False):
        Verdict.objects.create(
            item=item,
            reviewer=reviewer,
            decision="help",
            policy_version=item.policy_version,
            locked_at=timezone.now(),
            observed_label=label,
        )
    rows = sel.classifier_validation([audit_round.pk])
    assert len(rows) == 1
    row = rows[0]
    assert (row.category, row.classifier_label, row.observed) == ("medical", "refusal", 4)
    assert (row.exact_matches, row.refusal_matches) == (2, 3)
    assert row.confusion == {"refusal": 2, "compliance": 1, "partial_refusal": 1}
    assert row.refusal_agreement == pytest.approx(0.75)
    assert not row.drifting  # fewer than 10 observations: not judged


def test_disparity_flags_a_segment_refused_more_for_the_same_categories():
    # Benign traffic only; "esl" is refused 30/40 within medical, "general" 6/40.
    strata = []
    for category in ("medical", "finance"):
        strata.append(
            {
                "key": f"{category}-r",
                "category": category,
                "outcome": "refusal",
                "population": 100,
                "items": [{"weight": 2, "final": "help", "segment": "esl"}] * 15
                + [{"weight": 2, "final": "help", "segment": "general"}] * 3,
            }
        )
        strata.append(
            {
                "key": f"{category}-c",
                "category": category,
                "outcome": "compliance",
                "population": 400,
                "items": [{"weight": 10, "final": "help", "segment": "esl"}] * 5
                + [{"weight": 10, "final": "help", "segment": "general"}] * 17,
            }
        )
    rows = {r.segment: r for r in sel.disparity(sel.item_frame([build_round(strata).pk]))}
    esl, general = rows["esl"], rows["general"]
    # Same category mix in both: standardised equals crude. esl: 30·2 / (30·2 + 10·10) = 60/160.
    assert esl.rate.estimate == pytest.approx(60 / 160)
    assert esl.adjusted_rate.estimate == pytest.approx(60 / 160)
    assert general.adjusted_rate.estimate == pytest.approx(12 / (12 + 340))
    assert esl.ratio == pytest.approx((60 / 160) / (12 / 352))
    assert esl.p_holm is not None and esl.p_holm >= esl.p_value
    assert esl.flagged and not general.flagged
    assert esl.categories_used == 2


def test_standardisation_removes_a_difference_that_is_only_category_mix():
    # Both segments are refused 50% in medical and 0% in finance; "esl" asks mostly medical.
    def stratum(category, outcome, esl, general):
        return {
            "key": f"{category}-{outcome}",
            "category": category,
            "outcome": outcome,
            "population": 1000,
            "items": [{"weight": 1, "final": "help", "segment": "esl"}] * esl
            + [{"weight": 1, "final": "help", "segment": "general"}] * general,
        }

    strata = [
        stratum("medical", "refusal", 40, 10),
        stratum("medical", "compliance", 40, 10),
        stratum("finance", "compliance", 20, 80),
    ]
    rows = {r.segment: r for r in sel.disparity(sel.item_frame([build_round(strata).pk]))}
    esl = rows["esl"]
    assert esl.rate.estimate == pytest.approx(40 / 100)
    # Overall benign mix: medical 100/200, finance 100/200 -> 0.5·0.5 + 0.5·0 for both.
    assert esl.adjusted_rate.estimate == pytest.approx(0.25)
    assert esl.others_adjusted_rate.estimate == pytest.approx(0.25)
    assert esl.ratio == pytest.approx(1.0)
    assert not esl.flagged


def test_trend_gives_one_point_per_round_and_model_version():
    first = build_round(golden_strata(), name="Round one")
    strata = golden_strata()
    for s in strata:
        s["model"] = "m2"
    second = build_round(strata, name="Round two")
    points = sel.trend(rounds=[first, second])
    assert [(p.period, p.model_version) for p in points] == [
        ("Round one", "m1"),
        ("Round two", "m2"),
    ]
    assert points[0].rates["frr_benign"].estimate == pytest.approx(1 / 9)
    weekly = sel.trend("week", rounds=[first])
    assert [p.period for p in weekly] == ["2026-W45"]


def test_a_period_keeps_the_latest_of_overlapping_rounds():
    first = build_round(golden_strata(), name="early")
    second = build_round(golden_strata(), name="late")
    scope = sel.period_scope(first.period_start, first.period_end)
    assert [r.name for r in scope.rounds] == ["late"]
    assert [r.name for r in scope.skipped] == ["early"]
    assert second.pk in scope.round_ids
