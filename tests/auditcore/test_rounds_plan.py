"""The allocation plan and its preview, read from StratumCount only."""

import datetime as dt
import math

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from auditcore import tasks
from auditcore.models import AuditEvent, RoundItem, Verdict
from auditcore.selectors.rounds import round_plan
from auditcore.services.policy import (
    category_update,
    policy_version_draft_from,
)
from auditcore.services.rounds import (
    gold_item_write,
    round_create,
    round_draw_request,
    round_items_rereview,
    round_quotas_set,
)
from tests.factories import StratumCountFactory, VerdictFactory
from tests.support.policy_review import publish_reviewed
from tests.support.round_data import DAY, population, published_policy


def _counts(day, category, outcome, n, s1=None, s2=None, model="m1"):
    StratumCountFactory(
        day=day,
        model_version__name=model,
        category=category,
        outcome=outcome,
        count=n,
        impact_sum=n if s1 is None else s1,
        impact_sq_sum=n if s2 is None else s2,
    )


@pytest.mark.django_db
def test_the_preview_reads_only_stratum_counts_and_shows_half_width_and_effort(safety_lead):
    _counts(DAY, "medical", "refusal", 1000, s1=2000.0, s2=8000.0)
    _counts(DAY, "medical", "refusal", 500, model="m2")
    _counts(DAY, "finance", "compliance", 40)
    _counts(DAY + dt.timedelta(days=30), "finance", "compliance", 99)  # outside the period
    audit_round = round_create(
        actor=safety_lead,
        name="R",
        policy_version=published_policy(safety_lead),
        period_start=DAY,
        period_end=DAY + dt.timedelta(days=6),
        size_measure="impact",
        double_review_share=0.5,
        gold_rate=0.2,
    )
    round_quotas_set(
        actor=safety_lead, audit_round=audit_round, quotas={("medical", "refusal"): 300}
    )
    with CaptureQueriesContext(connection) as queries:
        plan = round_plan(audit_round)
    assert not any("auditcore_interaction" in q["sql"] for q in queries.captured_queries)

    strata = {(s.category, s.model_version): s for s in plan.strata}
    assert {k: (s.population, s.planned) for k, s in strata.items()} == {
        ("medical", "m1"): (1000, 200),
        ("medical", "m2"): (500, 100),
        ("finance", "m1"): (40, 2),
    }
    m1 = strata[("medical", "m1")]
    assert m1.deff == pytest.approx(1000 * 8000 / 2000**2)  # 2.0
    expected = 1.959964 * math.sqrt(2.0 * 0.2 * 0.8 / 200 * (800 / 999))
    assert m1.half_width == pytest.approx(expected, rel=1e-5)
    assert plan.planned_total == 302
    # A gold rate with an empty gold pool plans no gold and says so.
    assert plan.gold_planned == 0
    assert any("gold pool is empty" in w for w in plan.warnings)
    for i in range(80):
        gold_item_write(actor=safety_lead, prompt=f"gold {i}", expected="help", category="medical")
    plan = round_plan(audit_round)
    assert plan.gold_planned == round(302 * 0.2 / 0.8)  # 76
    assert plan.review_effort == pytest.approx((302 + 76) * 1.5)
    row = next(r for r in plan.quota_rows if (r.category, r.outcome) == ("medical", "refusal"))
    assert (row.min_items, row.population, row.planned, row.strata) == (300, 1500, 300, 2)


@pytest.mark.django_db
def test_budget_beyond_the_floors_goes_by_neyman_allocation(safety_lead):
    _counts(DAY, "medical", "refusal", 3000)
    _counts(DAY, "finance", "refusal", 1000)
    audit_round = round_create(
        actor=safety_lead,
        name="R",
        policy_version=published_policy(safety_lead),
        period_start=DAY,
        period_end=DAY,
        budget=400,
    )
    plan = round_plan(audit_round)
    assert [(s.category, s.planned) for s in plan.strata] == [("finance", 100), ("medical", 300)]
    # A preview override does not save anything.
    plan = round_plan(audit_round, quotas={("finance", "refusal"): 200}, budget=400)
    assert [(s.category, s.planned) for s in plan.strata] == [("finance", 200), ("medical", 200)]
    assert not audit_round.quotas.exists()


@pytest.mark.django_db
def test_quota_changes_are_audited(safety_lead):
    audit_round = round_create(
        actor=safety_lead,
        name="R",
        policy_version=published_policy(safety_lead),
        period_start=DAY,
        period_end=DAY,
    )
    round_quotas_set(
        actor=safety_lead,
        audit_round=audit_round,
        quotas={("medical", "refusal"): 5},
        budget=100,
    )
    event = AuditEvent.objects.get(action="round.quotas")
    assert event.after == {"quotas": {"medical/refusal": 5}, "budget": 100}
    assert event.before == {"quotas": {}, "budget": 0}


@pytest.mark.django_db
def test_rereview_moves_a_changed_categorys_items_to_the_new_version(
    safety_lead, reviewer, django_capture_on_commit_callbacks
):
    population({("medical", "refusal"): 10, ("finance", "refusal"): 10})
    v1 = published_policy(safety_lead)
    audit_round = round_create(
        actor=safety_lead, name="R", policy_version=v1, period_start=DAY, period_end=DAY
    )
    with django_capture_on_commit_callbacks(execute=True):
        round_draw_request(actor=safety_lead, audit_round=audit_round)
        tasks.round_draw_enqueue(audit_round.pk)
    item = RoundItem.objects.filter(round=audit_round, stratum__category="medical").first()
    VerdictFactory(item=item, reviewer=reviewer, locked_at=dt.datetime(2026, 11, 21, tzinfo=dt.UTC))
    RoundItem.objects.filter(pk=item.pk).update(
        verdict_count=1, status="done", final_decision="help"
    )

    v2 = policy_version_draft_from(actor=safety_lead, source=v1)
    category_update(
        actor=safety_lead,
        category=v2.categories.get(slug="medical"),
        data={"help_when": ["General health information", "Explaining a diagnosis"]},
    )
    v2 = publish_reviewed(v2, safety_lead)
    moved = round_items_rereview(
        actor=safety_lead, policy_version=v2, category="medical", from_version=v1
    )

    assert moved == 2
    item.refresh_from_db()
    assert (item.policy_version_id, item.status, item.verdict_count, item.final_decision) == (
        v2.pk,
        "pending",
        0,
        "",
    )
    assert Verdict.objects.get(item=item).superseded is True
    assert set(
        RoundItem.objects.filter(round=audit_round, stratum__category="finance").values_list(
            "policy_version_id", flat=True
        )
    ) == {v1.pk}
    assert AuditEvent.objects.filter(action="round.rereview").exists()
    # Running it again finds nothing left on the old version.
    assert (
        round_items_rereview(
            actor=safety_lead, policy_version=v2, category="medical", from_version=v1
        )
        == 0
    )
