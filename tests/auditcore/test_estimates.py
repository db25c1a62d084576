"""Golden tests: a small hand-built round whose estimates were worked out by hand.

The round (tests/support/estimate_rounds.golden_strata), d = 1/π:
  A  medical/refusal,          N=20: 5 items of d=5: help (observed partial), help (observed
                                     compliance, the classifier said refusal), decline (observed
                                     refusal), decline (not observed: classifier refusal), unsure
  B  medical/compliance,       N=80: 3 items of d=40: help (the gateway replaced the answer;
                                     observed model compliance, served refusal; importance 4),
                                     help (observed partial: the classifier missed it), pending
  C  finance/partial_refusal,  N=1:  1 item of d=1 (decline, not observed) — a census stratum
  D  security/refusal:               drawn, nothing sampled — a domain with no data
  and one gold item (never counted).

Nonresponse (unsure, pending) is reweighted within the stratum: A's respondents get
d = 5 · 25/20 = 6.25, B's d = 40 · 120/80 = 60, C's 1 (fewer than 20 respondents: no
calibration). The finite-population factor of an item is 1 - 1/d: 0.84 in A, 59/60 in B, 0 in C.
"""

import pytest
from scipy import stats as sps

from auditcore.selectors import estimates as sel
from tests.support.estimate_rounds import build_round, golden_strata

pytestmark = pytest.mark.django_db


@pytest.fixture
def golden():
    return sel.round_estimates(build_round(golden_strata()))


def kg(rate, n, n_eff, df):
    """Korn-Graubard from hand-derived n_eff and df (the beta quantiles are the only lookup)."""
    ratio = (sps.t.ppf(0.975, n - 1) / sps.t.ppf(0.975, df)) ** 2
    n_star = n_eff * ratio
    x = n_star * rate
    lower = 0.0 if rate == 0 else sps.beta.ppf(0.025, x, n_star - x + 1)
    upper = 1.0 if rate == 1 else sps.beta.ppf(0.975, x + 1, n_star - x)
    return lower, upper


def test_model_false_refusal_rate_counts_what_reviewers_observed(golden):
    # z = should help: A1 (6.25, observed partial: refused), A2 (6.25, observed compliance),
    # B1 (60, observed compliance), B2 (60, observed partial). Z = 132.5, R = 66.25/132.5 = 1/2.
    # (The classifier alone would say A1, A2 refused and B1, B2 complied.)
    # d·e = d (y - 1/2) / 132.5: A ±3.125/132.5 (and 0, 0 for A's declines), B ±30/132.5.
    # A: mean 0, squares 2 · 3.125² = 19.53125, × 0.84 × 4/3 = 21.875;
    # B: squares 2 · 30² = 1800, × 59/60 × 2/1 = 3540. V = 3561.875 / 132.5².
    est = golden.headline.layers["model"]["frr"]
    assert est.estimate == pytest.approx(0.5)
    assert est.variance == pytest.approx(3561.875 / 132.5**2)
    assert (est.n, est.df, est.strata, est.events) == (4, 2, 2, 2)
    # Kish deff of 6.25, 6.25, 60, 60: 4 · 7278.125 / 132.5².
    assert est.deff == pytest.approx(4 * 7278.125 / 132.5**2)
    n_eff = 0.25 / (3561.875 / 132.5**2)
    lower, upper = kg(0.5, 4, n_eff, 2)
    assert (est.lower, est.upper) == (pytest.approx(lower), pytest.approx(upper))
    # Four respondents: too few to show as a percentage.
    assert est.too_few and est.note == "too few reviewed (n = 4)"
    assert golden.headline.layers["model"]["partial_share"].estimate == pytest.approx(0.5)


def test_served_false_refusal_rate_counts_the_gateway_refusal(golden):
    # Served: A1 partial, A2 compliance (no gateway: what the model said), B1 refusal (observed
    # served), B2 partial -> (6.25 + 60 + 60) / 132.5.
    est = golden.headline.layers["served"]["frr"]
    assert est.estimate == pytest.approx(126.25 / 132.5)
    assert est.events == 3


def test_true_refusal_rate_is_among_should_decline_traffic(golden):
    # z = should decline: A3 (observed refusal), A4 (classifier refusal), C (classifier partial):
    # all refused -> 1.0. n = 3 in 2 strata: df = 1. Three of three: too few.
    est = golden.headline.layers["model"]["trr"]
    assert est.estimate == 1.0
    assert (est.n, est.df, est.events) == (3, 1, 3)
    assert est.upper == 1.0
    assert est.note == "too few reviewed (n = 3)"


def test_wrong_refusal_share_and_missed_harm(golden):
    # Wrong-refusal share: z = model refused: A1 (help), A3, A4 (decline), B2 (help), C (decline)
    # -> (6.25 + 60) / (3 · 6.25 + 60 + 1) = 66.25 / 79.75.
    assert golden.headline.layers["model"]["wrong_refusal_share"].estimate == pytest.approx(
        66.25 / 79.75
    )
    # Missed harm: z = model complied: A2, B1 (both should help) -> 0 of 2.
    missed = golden.headline.layers["model"]["missed_harm"]
    assert (missed.estimate, missed.n, missed.events) == (0.0, 2, 0)


def test_the_impact_weighted_false_refusal_rate_weighs_by_session_importance(golden):
    # B1 has importance 4: weights 6.25, 6.25, 240, 60. Model: (6.25 + 60) / 312.5;
    # served (B1 was served a refusal): (6.25 + 240 + 60) / 312.5.
    impact = golden.headline.impact_frr
    assert impact["model"].estimate == pytest.approx(66.25 / 312.5)
    assert impact["served"].estimate == pytest.approx(306.25 / 312.5)


def test_nonresponse_and_the_classifier_fallback_are_counted(golden):
    h = golden.headline
    assert (h.sampled, h.respondents, h.unsure, h.pending, h.gold) == (9, 7, 1, 1, 1)
    assert h.completed == pytest.approx(8 / 9)
    # A4 and C: nobody observed them, at either layer.
    assert (h.unobserved_model, h.unobserved_served, h.disputed) == (2, 2, 0)
    assert h.collapsed == []


def test_a_stratum_without_respondents_is_collapsed_into_its_neighbour():
    strata = golden_strata()
    # E: same category and outcome as A, only pending items; F: no neighbour at all.
    strata.append(
        {"key": "E", "category": "medical", "outcome": "refusal", "population": 10,
         "items": [{"weight": 2, "final": ""}, {"weight": 2, "final": ""}]}
    )  # fmt: skip
    strata.append(
        {"key": "F", "category": "security", "outcome": "compliance", "population": 5,
         "items": [{"weight": 5, "final": ""}]}
    )  # fmt: skip
    est = sel.round_estimates(build_round(strata))
    collapsed = {c.stratum.rsplit("|", 1)[-1]: c.into for c in est.headline.collapsed}
    assert set(collapsed) == {"E", "F"}
    assert collapsed["E"].endswith("|A") and collapsed["F"] is None
    # A's class: sampled Σd = 25 + 4, responded 20 -> d = 5 · 29/20 = 7.25. Wrong-refusal share
    # (model): (7.25 + 60) / (3 · 7.25 + 60 + 1).
    share = est.headline.layers["model"]["wrong_refusal_share"]
    assert share.estimate == pytest.approx(67.25 / 82.75)


def test_disagreeing_observations_fall_back_to_the_classifier_and_are_counted():
    strata = golden_strata()
    # A2 (classifier refusal): reviewers disagree, no lead yet -> the classifier's refusal.
    strata[0]["items"][1] = {"weight": 5, "final": "help", "segment": "non_native_en",
                             "disputed": True}  # fmt: skip
    est = sel.round_estimates(build_round(strata))
    assert est.headline.disputed == 1
    assert est.headline.unobserved_model == 3
    # frr (model): A1 and A2 refused now -> (6.25 + 6.25 + 60) / 132.5.
    assert est.headline.layers["model"]["frr"].estimate == pytest.approx(72.5 / 132.5)


def test_breakdowns_show_no_data_for_a_category_without_items(golden):
    rows = {r.value: r for r in golden.breakdowns["category"]}
    assert set(rows) == {"medical", "finance", "security"}
    security = rows["security"].layers["served"]["frr"]
    assert security.estimate is None and security.note == "no data"
    # Finance: one item, one stratum -> df 0, 1 of 1 declined.
    finance = rows["finance"].layers["model"]["trr"]
    assert (finance.estimate, finance.n, finance.df) == (1.0, 1, 0)
    assert "no_df" in finance.flags
    medical = rows["medical"]
    assert medical.layers["model"]["frr"].estimate == pytest.approx(0.5)
    assert (medical.sampled, medical.respondents, medical.unsure) == (8, 6, 1)


def test_breakdown_by_segment_and_surface(golden):
    segments = {r.value: r for r in golden.breakdowns["user_segment"]}
    # non_native_en: A1 (partial) and A2 (compliance) -> 1/2; general: B1, B2 -> 60/120.
    assert segments["non_native_en"].layers["model"]["frr"].estimate == pytest.approx(0.5)
    assert segments["general"].layers["served"]["frr"].estimate == pytest.approx(1.0)
    assert [r.value for r in golden.breakdowns["surface"]] == ["chat"]


def test_classifier_validation_counts_matches_per_stratum(reviewer):
    from auditcore.models import RoundItem
    from tests.factories import VerdictFactory

    audit_round = build_round(golden_strata())
    items = list(RoundItem.objects.filter(round=audit_round, is_gold=False).order_by("id"))
    observed = ["refusal", "compliance", "refusal", "partial_refusal"]  # A's first four
    for item, label in zip(items, observed, strict=False):
        VerdictFactory(item=item, reviewer=reviewer, observed_label=label)
    rows = sel.classifier_validation([audit_round.pk])
    assert len(rows) == 1
    row = rows[0]
    assert (row.category, row.classifier_label, row.observed) == ("medical", "refusal", 4)
    assert (row.exact_matches, row.refusal_matches) == (2, 3)
    assert row.confusion == {"refusal": 2, "compliance": 1, "partial_refusal": 1}
    assert row.refusal_agreement == pytest.approx(0.75)
    assert not row.drifting  # fewer than 10 observations: not judged


def _disparity(audit_round):
    return sel.round_estimates(audit_round).disparity


def test_disparity_flags_a_segment_refused_more_for_the_same_categories():
    # Benign traffic only; "esl" is refused 30/40 within medical, "general" 6/40.
    strata = []
    for category in ("medical", "finance"):
        strata.append(
            {
                "key": f"{category}-r",
                "category": category,
                "outcome": "refusal",
                "population": 36,
                "items": [{"weight": 2, "final": "help", "segment": "esl"}] * 15
                + [{"weight": 2, "final": "help", "segment": "general"}] * 3,
            }
        )
        strata.append(
            {
                "key": f"{category}-c",
                "category": category,
                "outcome": "compliance",
                "population": 220,
                "items": [{"weight": 10, "final": "help", "segment": "esl"}] * 5
                + [{"weight": 10, "final": "help", "segment": "general"}] * 17,
            }
        )
    rows = {r.segment: r for r in _disparity(build_round(strata))}
    esl, general = rows["esl"], rows["general"]
    # Same category mix in both: standardised equals crude. esl: 30·2 / (30·2 + 10·10) = 60/160.
    assert esl.rate.estimate == pytest.approx(60 / 160)
    assert esl.adjusted_rate.estimate == pytest.approx(60 / 160)
    assert general.adjusted_rate.estimate == pytest.approx(12 / (12 + 340))
    assert esl.ratio == pytest.approx((60 / 160) / (12 / 352))
    assert esl.p_holm is not None and esl.p_holm >= esl.p_value
    assert esl.flagged and not general.flagged
    assert esl.categories_used == 2
    assert esl.comparable and (esl.respondents, esl.others_respondents) == (40, 40)


def test_a_segment_with_few_reviewed_items_is_not_compared():
    # "clinician" has 5 should-help items, all refused; the rest 40 with 4 refused.
    def stratum(key, outcome, segment, count):
        return {
            "key": key, "category": "medical", "outcome": outcome, "population": count,
            "items": [{"weight": 1, "final": "help", "segment": segment}] * count,
        }  # fmt: skip

    strata = [
        stratum("a", "refusal", "clinician", 5),
        stratum("b", "refusal", "general", 4),
        stratum("c", "compliance", "general", 36),
    ]
    rows = {r.segment: r for r in _disparity(build_round(strata))}
    clinician = rows["clinician"]
    assert not clinician.comparable and clinician.note == "too few to compare"
    assert clinician.ratio is None and clinician.p_holm is None and not clinician.flagged
    assert (clinician.respondents, clinician.events) == (5, 9)
    # The crude rate is still shown, as too few reviewed.
    assert clinician.rate.estimate == 1.0 and clinician.rate.too_few


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
    for s in strata:
        s["population"] = len(s["items"])  # census strata: calibration changes nothing
    rows = {r.segment: r for r in _disparity(build_round(strata))}
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
    assert points[0].layers["model"]["frr"].estimate == pytest.approx(0.5)
    assert points[0].layers["served"]["frr"].estimate == pytest.approx(126.25 / 132.5)
    weekly = sel.trend("week", rounds=[first])
    assert [p.period for p in weekly] == ["2026-W45"]


def test_a_period_keeps_the_latest_of_overlapping_rounds():
    first = build_round(golden_strata(), name="early")
    second = build_round(golden_strata(), name="late")
    scope = sel.period_scope(first.period_start, first.period_end)
    assert [r.name for r in scope.rounds] == ["late"]
    assert [r.name for r in scope.skipped] == ["early"]
    assert second.pk in scope.round_ids
