"""Rounds do not overlap: a frame shared with another round is refused unless a supplement."""

import datetime as dt

import numpy as np
import pytest

from auditcore import sampling
from auditcore.exceptions import ApplicationError
from auditcore.models import Interaction, ModelVersion, RoundItem, RoundStratum, Surface
from auditcore.services.rounds import round_create
from tests.factories import AuditRoundFactory, RoundItemFactory
from tests.support.round_data import DAY, draw, population, published_policy

pytestmark = pytest.mark.django_db

WEEK = {"period_start": DAY, "period_end": DAY + dt.timedelta(days=6)}


def test_a_round_overlapping_another_is_refused_with_the_other_named(safety_lead):
    policy = published_policy(safety_lead)
    round_create(actor=safety_lead, name="Week 47", policy_version=policy, **WEEK)
    with pytest.raises(ApplicationError, match="overlaps round 'Week 47'") as caught:
        round_create(
            actor=safety_lead,
            name="Late",
            policy_version=policy,
            period_start=DAY + dt.timedelta(days=6),
            period_end=DAY + dt.timedelta(days=12),
        )
    assert caught.value.extra["field"] == "period_start"
    assert "supplement" in caught.value.message
    # The next week is a frame of its own.
    round_create(
        actor=safety_lead,
        name="Week 48",
        policy_version=policy,
        period_start=DAY + dt.timedelta(days=7),
        period_end=DAY + dt.timedelta(days=13),
    )


def test_rounds_over_different_surfaces_or_models_of_one_week_are_disjoint(safety_lead):
    policy = published_policy(safety_lead)
    chat, api = (Surface.objects.create(name=n) for n in ("chat", "api"))
    m1, m2 = (ModelVersion.objects.create(name=n) for n in ("m1", "m2"))
    round_create(actor=safety_lead, name="chat", policy_version=policy, surfaces=[chat], **WEEK)
    round_create(
        actor=safety_lead,
        name="api m1",
        policy_version=policy,
        surfaces=[api],
        model_versions=[m1],
        **WEEK,
    )
    round_create(
        actor=safety_lead,
        name="api m2",
        policy_version=policy,
        surfaces=[api],
        model_versions=[m2],
        **WEEK,
    )
    # Every surface includes chat.
    with pytest.raises(ApplicationError, match="overlaps round 'chat'"):
        round_create(actor=safety_lead, name="all", policy_version=policy, **WEEK)
    with pytest.raises(ApplicationError, match="overlaps round 'api m1'"):
        round_create(actor=safety_lead, name="api", policy_version=policy, surfaces=[api], **WEEK)


def test_a_supplement_draws_from_the_unsampled_remainder_with_the_combined_design(
    safety_lead, django_capture_on_commit_callbacks
):
    population({("medical", "refusal"): 300}, weight=lambda i: 0.5 + (i % 5))
    policy = published_policy(safety_lead)
    first = round_create(
        actor=safety_lead,
        name="First",
        policy_version=policy,
        budget=20,
        size_measure="impact",
        **WEEK,
    )
    first = draw(safety_lead, first, django_capture_on_commit_callbacks)
    first_items = {
        i.interaction_id: i.inclusion_probability for i in RoundItem.objects.filter(round=first)
    }
    assert len(first_items) == 20

    extra = round_create(
        actor=safety_lead, name="Extra", policy_version=policy, budget=30, supplement_of=first
    )
    assert (extra.period_start, extra.period_end, extra.salt) == (
        first.period_start,
        first.period_end,
        first.salt,
    )
    extra = draw(safety_lead, extra, django_capture_on_commit_callbacks)
    extra_items = list(RoundItem.objects.filter(round=extra))
    assert len(extra_items) == 30
    assert not {i.interaction_id for i in extra_items} & set(first_items)
    # The first round's items keep their own design.
    assert {
        i.interaction_id: i.inclusion_probability for i in RoundItem.objects.filter(round=first)
    } == first_items

    # Together they are the 50 smallest keys; τ and π are the combined design's.
    rows = list(Interaction.objects.values_list("id", "u", "impact_weight"))
    ids = np.array([r[0] for r in rows])
    x = np.array([r[2] for r in rows])
    keys = sampling.round_u(np.array([r[1] for r in rows]), first.salt) / x
    order = np.argsort(keys)
    assert set(ids[order[:50]].tolist()) == set(first_items) | {
        i.interaction_id for i in extra_items
    }
    stratum = RoundStratum.objects.get(round=extra)
    assert (stratum.population, stratum.sampled) == (300, 30)
    assert stratum.tau == pytest.approx(keys[order[50]])
    x_of = dict(zip(ids.tolist(), x.tolist(), strict=True))
    for item in extra_items:
        assert item.inclusion_probability == pytest.approx(
            min(1.0, x_of[item.interaction_id] * stratum.tau)
        )


def test_a_supplement_needs_a_drawn_first_round(safety_lead):
    policy = published_policy(safety_lead)
    first = round_create(actor=safety_lead, name="First", policy_version=policy, **WEEK)
    with pytest.raises(ApplicationError, match="has not been drawn"):
        round_create(
            actor=safety_lead, name="Extra", policy_version=policy, budget=10, supplement_of=first
        )


def _drawn_round(name, policy, *, surfaces=(), day=DAY, final=0, **kwargs):
    audit_round = AuditRoundFactory(
        name=name,
        policy_version=policy,
        period_start=day,
        period_end=day + dt.timedelta(days=6),
        salt=name,
        **kwargs,
    )
    audit_round.surfaces.set(surfaces)
    for i in range(final):
        RoundItemFactory(
            round=audit_round,
            interaction__source="pool",
            interaction__external_id=f"{name}-{i}",
            interaction__day=day,
            status="done",
            final_decision="help",
        )
    return audit_round


def test_period_views_pool_disjoint_frames_and_say_which_rounds_they_left_out(safety_lead):
    from auditcore.selectors.rounds import rounds_pooled

    policy = published_policy(safety_lead)
    chat, api = (Surface.objects.get_or_create(name=n)[0] for n in ("chat", "api"))
    on_chat = _drawn_round("chat week", policy, surfaces=[chat], final=3)
    _drawn_round("api week", policy, surfaces=[api], final=1)
    # An overlapping round made before the rule, later but unreviewed: not the one used.
    stale = _drawn_round("all surfaces, unreviewed", policy)
    extra = _drawn_round("chat extra", policy, surfaces=[chat], supplement_of=on_chat)

    pooled = rounds_pooled(DAY, DAY + dt.timedelta(days=6))
    assert [r.name for r in pooled.used] == ["chat week", "api week"]
    reasons = {r.name: why for r, why in pooled.left_out}
    assert reasons == {
        stale.name: "its frame overlaps 'chat week', which has more verdicts",
        extra.name: f"a supplement of round {on_chat.pk}",
    }


def _first_and_supplement(safety_lead, callbacks):
    population({("medical", "refusal"): 300}, weight=lambda i: 0.5 + (i % 5))
    policy = published_policy(safety_lead)
    first = round_create(
        actor=safety_lead,
        name="First",
        policy_version=policy,
        budget=20,
        size_measure="impact",
        **WEEK,
    )
    first = draw(safety_lead, first, callbacks)
    extra = round_create(
        actor=safety_lead, name="Extra", policy_version=policy, budget=30, supplement_of=first
    )
    return first, draw(safety_lead, extra, callbacks)


def test_a_second_supplement_of_a_round_is_refused(safety_lead, django_capture_on_commit_callbacks):
    first, _ = _first_and_supplement(safety_lead, django_capture_on_commit_callbacks)
    with pytest.raises(ApplicationError, match="already has a supplement, 'Extra'"):
        round_create(
            actor=safety_lead,
            name="Another",
            policy_version=first.policy_version,
            budget=10,
            supplement_of=first,
        )


def test_a_round_and_its_supplement_are_estimated_as_one_combined_sample(
    safety_lead, client, django_capture_on_commit_callbacks
):
    from django.urls import reverse

    from auditcore.selectors import estimates as sel

    first, extra = _first_and_supplement(safety_lead, django_capture_on_commit_callbacks)
    items = list(RoundItem.objects.filter(round__in=[first, extra]).select_related("interaction"))
    assert len(items) == 50
    # Every item reviewed "should help"; the model refused every third one.
    for item in items:
        item.status, item.final_decision = "done", "help"
        item.observed_label = "refusal" if item.interaction_id % 3 == 0 else "compliance"
        item.save()
    tau = RoundStratum.objects.get(round=extra).tau
    # By hand: the combined design is one priority sample, π = min(1, x·τ_combined) for all 50.
    d = np.array([1 / min(1.0, i.interaction.impact_weight * tau) for i in items])
    refused = np.array([i.observed_label == "refusal" for i in items])
    expected = d[refused].sum() / d.sum()

    for audit_round in (first, extra):
        figures = sel.round_estimates(audit_round)
        frr = figures.layers["model"]["frr"]
        assert frr.n == 50
        assert frr.estimate == pytest.approx(expected)
    # The first round's items alone, with their own design, give another figure.
    alone = sel.dashboard_figures(scope=sel.Scope([first]), layer="served").estimates
    alone = alone.layers["model"]["frr"]
    assert alone.n == 20 and alone.estimate != pytest.approx(expected)

    client.force_login(safety_lead)
    page = client.get(reverse("dashboard:round", args=[extra.pk])).content.decode()
    assert 'id="combined-rounds"' in page
    assert "First</bdi> and <bdi>Extra" in page
