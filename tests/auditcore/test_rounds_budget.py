"""The planner fits the budget: served-outcome strata, collapsing, quota floors, refusals."""

import datetime as dt
import random

import pytest

from auditcore.exceptions import ApplicationError
from auditcore.models import ModelVersion, RoundItem, RoundStratum, StratumCount, Surface
from auditcore.selectors.rounds import round_plan
from auditcore.services.policy import policy_create
from auditcore.services.rounds import round_create, round_draw_request, round_quotas_set
from tests.support.policy_review import publish_reviewed
from tests.support.round_data import DAY, draw, population, published_policy

pytestmark = pytest.mark.django_db

OUTCOMES = ("refusal", "partial_refusal", "compliance")


def _round(actor, policy=None, **kwargs):
    defaults = {"name": "Week", "period_start": DAY, "period_end": DAY + dt.timedelta(days=6)}
    defaults.update(kwargs)
    return round_create(actor=actor, policy_version=policy or published_policy(actor), **defaults)


def test_budget_is_respected_for_20_random_policies_and_quotas(safety_lead):
    rng = random.Random(16)
    fitted = 0
    for trial in range(20):
        categories = [f"c{trial}x{i}" for i in range(rng.randint(2, 6))]
        policy = publish_reviewed(
            policy_create(
                actor=safety_lead,
                name=f"Policy {trial}",
                categories=[{"slug": c, "help_when": ["x"]} for c in categories],
            ),
            safety_lead,
        )
        surfaces = [
            Surface.objects.get_or_create(name=f"s{i}")[0] for i in range(rng.randint(1, 3))
        ]
        models = [
            ModelVersion.objects.get_or_create(name=f"m{i}")[0] for i in range(rng.randint(1, 3))
        ]
        days = rng.randint(1, 7)
        start = DAY + dt.timedelta(days=30 * trial)  # each trial its own period
        rows = []
        for c in categories:
            for o in OUTCOMES:
                for changed in (False, True):
                    if rng.random() < 0.3:
                        continue
                    for d in range(days):
                        for s in surfaces:
                            for m in models:
                                n = rng.choice([0, 1, 2, 5, 20, 150])
                                if n:
                                    rows.append(
                                        StratumCount(
                                            day=start + dt.timedelta(days=d),
                                            surface=s,
                                            model_version=m,
                                            category=c,
                                            outcome=o,
                                            gateway_changed=changed,
                                            count=n,
                                            impact_sum=n,
                                            impact_sq_sum=n,
                                        )
                                    )
        StratumCount.objects.bulk_create(rows)
        quotas = {
            (rng.choice(categories), rng.choice(OUTCOMES)): rng.choice([3, 10, 25, 60])
            for _ in range(rng.randint(0, 4))
        }
        budget = rng.choice([10, 30, 50, 150, 300])
        audit_round = _round(
            safety_lead,
            policy,
            name=f"trial {trial}",
            period_start=start,
            period_end=start + dt.timedelta(days=days - 1),
            budget=budget,
        )
        round_quotas_set(actor=safety_lead, audit_round=audit_round, quotas=quotas)
        plan = round_plan(audit_round)
        context = (trial, budget, quotas, plan.dims, plan.problem)
        if plan.fits:
            fitted += 1
            assert 0 < plan.planned_total <= budget, context
            for s in plan.strata:
                assert s.planned >= min(2, s.population), (context, s)
                assert s.planned >= s.floor, (context, s)
                assert s.planned <= s.population, (context, s)
            # A refinement the plan kept never leaves a stratum unable to hold two items.
            if set(plan.dims) & {"surface", "model_version", "day"}:
                assert all(s.population >= 2 for s in plan.strata), context
            for row in plan.quota_rows:
                assert row.planned >= min(row.min_items, row.population), (context, row)
        else:
            assert str(budget) in plan.problem, context
            with pytest.raises(ApplicationError, match="budget"):
                round_draw_request(actor=safety_lead, audit_round=audit_round)
    assert fitted >= 12  # most random setups fit; the rest were refused with a reason


def test_served_outcome_is_its_own_stratum_and_gateway_changes_are_oversampled(
    safety_lead, django_capture_on_commit_callbacks
):
    population({("medical", "compliance"): 400})
    population({("medical", "compliance"): 6}, gateway_action="blocked", start=1000)
    audit_round = _round(safety_lead, budget=20)
    plan = round_plan(audit_round)
    by_served = {s.gateway_changed: s for s in plan.strata}
    assert by_served[True].population == 6
    assert by_served[True].planned >= 2
    audit_round = draw(safety_lead, audit_round, django_capture_on_commit_callbacks)
    changed = RoundStratum.objects.get(round=audit_round, gateway_changed=True)
    items = RoundItem.objects.filter(stratum=changed)
    assert items.count() == changed.sampled >= 2
    assert set(items.values_list("interaction__gateway_action", flat=True)) == {"blocked"}
    assert RoundItem.objects.filter(round=audit_round).count() <= 20


def test_a_small_budget_collapses_day_and_model_version_and_says_which(safety_lead):
    for d in range(7):
        day = DAY + dt.timedelta(days=d)
        for model in ("m1", "m2"):
            population(
                {("medical", "refusal"): 30, ("finance", "compliance"): 30},
                day=day,
                model=model,
                start=d * 1000 + (500 if model == "m2" else 0),
            )
    audit_round = _round(safety_lead, budget=6)
    plan = round_plan(audit_round)
    assert plan.fits
    assert plan.planned_total == 6  # 2 strata × 2 fit; × 2 models or × 7 days would not
    assert {"day", "model_version"} <= set(plan.collapsed)
    assert all(s.day is None and s.model_version is None for s in plan.strata)

    wide = round_plan(audit_round, budget=0)  # no budget: every dimension that holds 2 records
    assert wide.collapsed == []
    assert len(wide.strata) == 2 * 7 * 2


def test_quotas_that_cannot_fit_are_reported_and_the_draw_is_refused(safety_lead):
    population({("medical", "refusal"): 100, ("finance", "refusal"): 100})
    audit_round = _round(safety_lead, budget=30)
    round_quotas_set(
        actor=safety_lead,
        audit_round=audit_round,
        quotas={("medical", "refusal"): 25, ("finance", "refusal"): 20},
    )
    plan = round_plan(audit_round)
    assert not plan.fits
    assert "45 items, 15 more than the budget of 30" in plan.problem
    assert "medical/refusal (25)" in plan.problem
    with pytest.raises(ApplicationError, match="15 more than the budget"):
        round_draw_request(actor=safety_lead, audit_round=audit_round)
    assert not RoundItem.objects.exists()

    round_quotas_set(
        actor=safety_lead, audit_round=audit_round, quotas={("medical", "refusal"): 10}
    )
    assert round_plan(audit_round).fits


def test_a_quota_on_an_empty_cell_is_reported(safety_lead):
    population({("medical", "refusal"): 50})
    audit_round = _round(safety_lead, budget=20)
    round_quotas_set(
        actor=safety_lead, audit_round=audit_round, quotas={("finance", "partial_refusal"): 5}
    )
    plan = round_plan(audit_round)
    assert any("finance/partial_refusal (5)" in w for w in plan.warnings)
    assert plan.planned_total == 20
