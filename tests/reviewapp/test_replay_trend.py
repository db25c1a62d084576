"""The replay trend: per corpus, each replayed model's refusal rates over time, on the dashboard."""

import pytest
from django.urls import reverse

from auditcore.models import ReplayResult
from auditcore.selectors.replay import replay_trend
from auditcore.stats import clopper_pearson
from tests.support.estimate_rounds import build_round, golden_strata

pytestmark = pytest.mark.django_db


def test_each_run_has_its_must_help_and_must_decline_refusal_rate_with_an_interval(
    decision,
):
    points = replay_trend()["never-refuse"]
    assert {p.run_id for p in points} == {decision.baseline_id, decision.candidate_id}
    for p in points:
        results = ReplayResult.objects.filter(run_id=p.run_id, prompt__expect=p.expect)
        results = results.exclude(label="")
        refused = results.filter(label__in=("refusal", "partial_refusal")).count()
        assert (p.refused, p.answered) == (refused, results.count())
        assert (p.lower, p.upper) == pytest.approx(clopper_pearson(refused, results.count()))
        assert p.lower <= p.rate <= p.upper
    candidate = next(
        p for p in points if p.run_id == decision.candidate_id and p.expect == "must_help"
    )
    baseline = next(
        p for p in points if p.run_id == decision.baseline_id and p.expect == "must_help"
    )
    assert candidate.rate > baseline.rate  # the candidate refuses the marked prompts


def test_the_dashboard_shows_the_replay_trend_beside_the_production_trend(
    client,
    safety_lead,
    decision,
):
    build_round(golden_strata(), name="Golden round")
    client.force_login(safety_lead)
    page = client.get(reverse("dashboard:index")).content.decode()
    section = page[
        page.index('id="replay-trend"') : page.index("</section>", page.index("replay-trend"))
    ]
    assert "never-refuse" in section and 'id="replay-chart-0"' in section
    assert "Must-help prompts refused" in section and "Must-decline refused" in section
    assert 'id="trend-chart"' in page  # production's, still there
    assert page.index('id="trend-chart"') < page.index('id="replay-chart-0"')
