"""Policy insights selectors on synthetic traffic with a planted trigger word."""

import pytest

from auditcore.selectors import estimates as sel
from auditcore.selectors import insights as ins
from tests.support.insights_data import give_reason, planted_round

pytestmark = pytest.mark.django_db


def test_the_planted_trigger_ranks_first_and_an_evenly_spread_word_is_not_shown():
    scope = sel.round_scope(planted_round())
    triggers = {c.category: c for c in ins.trigger_words(scope)}
    coding = triggers["coding"]
    assert (coding.refused, coding.helped) == (70, 380)
    assert coding.terms[0].term == "kill"
    assert coding.terms[0].z > 1.96
    assert (coding.terms[0].refused_prompts, coding.terms[0].helped_prompts) == (30, 20)
    shown = {t.term for t in coding.terms}
    assert "python" not in shown
    assert "rust" not in shown
    assert all("kill" in t for t in shown)
    assert len(coding.terms[0].examples) == 3


def test_trigger_words_follow_the_layer():
    # No gateway touched this traffic, so the model layer finds the same trigger; an unknown
    # layer is an error rather than a silent default.
    scope = sel.round_scope(planted_round())
    assert ins.trigger_words(scope, layer="model")[0].terms[0].term == "kill"
    with pytest.raises(ValueError, match="layer"):
        ins.trigger_words(scope, layer="user")


def test_costs_rank_categories_by_estimated_wrongly_refused_requests(safety_lead):
    audit_round = planted_round()
    give_reason(audit_round, safety_lead, "medical", "general_info")
    costs = ins.policy_costs(sel.round_scope(audit_round))
    assert [row.category for row in costs.rows] == ["coding", "medical"]
    coding, medical = costs.rows
    # coding: 70 false refusals of weight 2 (stratum of 70 respondents calibrated to N = 140).
    assert coding.wrongly_refused.estimate == pytest.approx(140)
    # medical: 6 of 10 items of weight 5 are false refusals: 30, with stratum variance
    # 10/9 · (6·(5-3)² + 4·3²) · (1 - 0.2) = 53.33.
    assert medical.wrongly_refused.estimate == pytest.approx(30)
    assert medical.wrongly_refused.variance == pytest.approx(160 / 3)
    assert medical.wrongly_refused.lower < 30 < medical.wrongly_refused.upper
    assert costs.all_false_refusals.estimate == pytest.approx(170)
    assert coding.share.estimate == pytest.approx(140 / 170)
    assert [r.code for r in medical.reasons] == ["general_info"]
    assert medical.reasons[0].wrongly_refused.estimate == pytest.approx(30)
    assert [r.code for r in coding.reasons] == [ins.NO_REASON]
    assert [row.category for row in costs.top] == ["coding", "medical"]
