"""The draw service: stored π, τ, N, n and weights per stratum; nestedness; later days."""

import datetime as dt

import numpy as np
import pytest

from auditcore import sampling, tasks
from auditcore.exceptions import ApplicationError
from auditcore.models import AuditEvent, AuditRound, Interaction, RoundItem, RoundStratum
from auditcore.services.rounds import (
    gold_item_write,
    round_close,
    round_create,
    round_draw_request,
    round_quotas_set,
)
from tests.factories import VerdictFactory
from tests.support.round_data import DAY, population, published_policy

pytestmark = pytest.mark.django_db


def _round(actor, **kwargs):
    defaults = {
        "name": "November",
        "period_start": DAY,
        "period_end": DAY + dt.timedelta(days=6),
    }
    defaults.update(kwargs)
    if "policy_version" not in defaults:
        defaults["policy_version"] = published_policy(actor)
    return round_create(actor=actor, **defaults)


def _draw(actor, audit_round, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        round_draw_request(actor=actor, audit_round=audit_round)
        tasks.round_draw_enqueue(audit_round.pk)
    audit_round.refresh_from_db()
    return audit_round


def _keys(audit_round, stratum):
    """Every record's priority key in a stratum (one surface, model and day in these tests)."""
    size = "session_importance" if audit_round.size_measure == "session" else "impact_weight"
    rows = list(
        Interaction.objects.filter(
            category=stratum.category, response_label=stratum.outcome
        ).values_list("id", "u", size)
    )
    ids = np.array([r[0] for r in rows])
    x = np.array([sampling.size_measure(r[2], audit_round.size_measure) for r in rows])
    keys = sampling.round_u(np.array([r[1] for r in rows]), audit_round.salt) / x
    return ids, x, keys


def test_stored_pi_is_min_one_x_tau_and_weights_are_one_over_pi(
    safety_lead, django_capture_on_commit_callbacks
):
    population(
        {("medical", "refusal"): 40, ("finance", "compliance"): 25},
        weight=lambda i: 0.5 + (i % 7),
    )
    audit_round = _round(safety_lead, size_measure="impact")
    round_quotas_set(
        actor=safety_lead,
        audit_round=audit_round,
        quotas={("medical", "refusal"): 10, ("finance", "compliance"): 5},
    )
    audit_round = _draw(safety_lead, audit_round, django_capture_on_commit_callbacks)

    assert audit_round.status == AuditRound.Status.OPEN
    assert audit_round.draw_progress == 1.0
    strata = {s.category: s for s in RoundStratum.objects.filter(round=audit_round)}
    assert {k: (s.population, s.sampled) for k, s in strata.items()} == {
        "medical": (40, 10),
        "finance": (25, 5),
    }
    for stratum in strata.values():
        assert stratum.salt == audit_round.salt
        ids, x, keys = _keys(audit_round, stratum)
        order = np.argsort(keys)
        expected_ids = set(ids[order[: stratum.sampled]].tolist())
        assert stratum.tau == pytest.approx(keys[order[stratum.sampled]])
        items = list(RoundItem.objects.filter(stratum=stratum))
        assert {i.interaction_id for i in items} == expected_ids
        x_by_id = dict(zip(ids.tolist(), x.tolist(), strict=True))
        for item in items:
            assert item.inclusion_probability == pytest.approx(
                min(1.0, x_by_id[item.interaction_id] * stratum.tau)
            )
        for item in items:
            assert item.weight == pytest.approx(1 / item.inclusion_probability)


def test_session_importance_can_be_the_size_measure(
    safety_lead, django_capture_on_commit_callbacks
):
    population({("medical", "refusal"): 40}, weight=lambda i: 1.0)
    ids = list(Interaction.objects.order_by("id").values_list("id", flat=True))
    for n, pk in enumerate(ids):
        Interaction.objects.filter(pk=pk).update(session_importance=0.25 + (n % 5))
    audit_round = _round(safety_lead, size_measure="session")
    round_quotas_set(actor=safety_lead, audit_round=audit_round, quotas={("medical", "refusal"): 8})
    audit_round = _draw(safety_lead, audit_round, django_capture_on_commit_callbacks)
    stratum = RoundStratum.objects.get(round=audit_round)
    ids, x, keys = _keys(audit_round, stratum)
    assert sorted(set(x.tolist())) == [0.25, 1.25, 2.25, 3.25, 4.25]
    order = np.argsort(keys)
    items = {i.interaction_id: i for i in RoundItem.objects.filter(stratum=stratum)}
    assert set(items) == set(ids[order[: stratum.sampled]].tolist())
    x_by_id = dict(zip(ids.tolist(), x.tolist(), strict=True))
    for pk, item in items.items():
        assert item.inclusion_probability == pytest.approx(min(1.0, x_by_id[pk] * stratum.tau))


def test_a_small_stratum_is_taken_whole_with_pi_one(
    safety_lead, django_capture_on_commit_callbacks
):
    population({("medical", "partial_refusal"): 3})
    audit_round = _round(safety_lead)
    round_quotas_set(
        actor=safety_lead, audit_round=audit_round, quotas={("medical", "partial_refusal"): 5}
    )
    audit_round = _draw(safety_lead, audit_round, django_capture_on_commit_callbacks)
    stratum = RoundStratum.objects.get(round=audit_round)
    assert (stratum.population, stratum.sampled, stratum.tau) == (3, 3, None)
    assert all(i.inclusion_probability == 1.0 for i in RoundItem.objects.filter(round=audit_round))


def test_every_non_empty_stratum_gets_at_least_two_items(
    safety_lead, django_capture_on_commit_callbacks
):
    population({("medical", "refusal"): 10, ("finance", "refusal"): 10})
    audit_round = _round(safety_lead)
    audit_round = _draw(safety_lead, audit_round, django_capture_on_commit_callbacks)
    assert sorted(RoundStratum.objects.values_list("sampled", flat=True)) == [2, 2]


def test_raising_a_quota_extends_the_same_ordering(safety_lead, django_capture_on_commit_callbacks):
    population({("medical", "refusal"): 60})
    audit_round = _round(safety_lead)
    round_quotas_set(
        actor=safety_lead, audit_round=audit_round, quotas={("medical", "refusal"): 10}
    )
    audit_round = _draw(safety_lead, audit_round, django_capture_on_commit_callbacks)
    first = set(
        RoundItem.objects.filter(round=audit_round).values_list("interaction_id", flat=True)
    )
    tau_before = RoundStratum.objects.get(round=audit_round).tau

    round_quotas_set(
        actor=safety_lead, audit_round=audit_round, quotas={("medical", "refusal"): 25}
    )
    audit_round = _draw(safety_lead, audit_round, django_capture_on_commit_callbacks)
    second = set(
        RoundItem.objects.filter(round=audit_round).values_list("interaction_id", flat=True)
    )
    stratum = RoundStratum.objects.get(round=audit_round)
    assert first < second
    assert len(second) == stratum.sampled == 25
    assert stratum.tau > tau_before
    # The combined sample carries the new τ: π = τ for every item under a uniform measure.
    for pi in RoundItem.objects.filter(round=audit_round).values_list(
        "inclusion_probability", flat=True
    ):
        assert pi == pytest.approx(stratum.tau)


def test_records_for_a_later_day_form_new_strata(safety_lead, django_capture_on_commit_callbacks):
    population({("medical", "refusal"): 20})
    audit_round = _round(safety_lead)
    audit_round = _draw(safety_lead, audit_round, django_capture_on_commit_callbacks)
    old = RoundStratum.objects.get(round=audit_round)

    population({("medical", "refusal"): 15}, day=DAY + dt.timedelta(days=1), start=1000)
    audit_round = _draw(safety_lead, audit_round, django_capture_on_commit_callbacks)
    strata = list(RoundStratum.objects.filter(round=audit_round).order_by("day"))
    assert [s.day for s in strata] == [DAY, DAY + dt.timedelta(days=1)]
    assert (strata[0].tau, strata[0].sampled, strata[0].population) == (
        old.tau,
        old.sampled,
        old.population,
    )
    assert (strata[1].population, strata[1].sampled) == (15, 2)


def test_each_round_has_its_own_salt_and_so_its_own_order(safety_lead):
    population({("medical", "refusal"): 200})
    policy = published_policy(safety_lead, [{"slug": "medical", "help_when": ["a"]}])
    a = _round(safety_lead, name="A", policy_version=policy)
    b = _round(
        safety_lead,
        name="B",
        policy_version=policy,
        period_start=DAY + dt.timedelta(days=7),
        period_end=DAY + dt.timedelta(days=13),
    )
    assert a.salt != b.salt
    stored_u = np.array(Interaction.objects.values_list("u", flat=True))
    first_20 = [set(np.argsort(sampling.round_u(stored_u, r.salt))[:20].tolist()) for r in (a, b)]
    assert first_20[0] != first_20[1]


def test_double_review_share_marks_a_deterministic_subset(
    safety_lead, django_capture_on_commit_callbacks
):
    population({("medical", "refusal"): 400})
    audit_round = _round(safety_lead, double_review_share=0.25, budget=200)
    audit_round = _draw(safety_lead, audit_round, django_capture_on_commit_callbacks)
    doubles = RoundItem.objects.filter(round=audit_round, required_reviews=2).count()
    assert 30 <= doubles <= 70
    orders = list(RoundItem.objects.filter(round=audit_round).values_list("queue_order", flat=True))
    assert len(set(orders)) == len(orders)
    assert all(0 < o <= 1 for o in orders)


def test_gold_items_are_mixed_in_at_the_gold_rate(safety_lead, django_capture_on_commit_callbacks):
    population({("medical", "refusal"): 100})
    for i in range(10):
        gold_item_write(actor=safety_lead, prompt=f"gold {i}", expected="help", category="medical")
    audit_round = _round(safety_lead, gold_rate=0.2, budget=20)
    audit_round = _draw(safety_lead, audit_round, django_capture_on_commit_callbacks)
    gold = RoundItem.objects.filter(round=audit_round, is_gold=True)
    assert gold.count() == 5  # 5 / (20 + 5) = 20%
    assert {g.gold_decision for g in gold} == {"help"}
    assert all(g.stratum_id is None for g in gold)
    # Gold prompts never enter a stratum's population.
    assert RoundStratum.objects.get(round=audit_round).population == 100


def test_a_closed_round_is_immutable(safety_lead, django_capture_on_commit_callbacks):
    population({("medical", "refusal"): 10})
    audit_round = _round(safety_lead)
    audit_round = _draw(safety_lead, audit_round, django_capture_on_commit_callbacks)
    round_close(actor=safety_lead, audit_round=audit_round)
    with pytest.raises(ApplicationError, match="closed"):
        round_quotas_set(
            actor=safety_lead, audit_round=audit_round, quotas={("medical", "refusal"): 5}
        )
    with pytest.raises(ApplicationError, match="closed"):
        round_draw_request(actor=safety_lead, audit_round=audit_round)
    actions = set(AuditEvent.objects.values_list("action", flat=True))
    assert {"round.create", "round.draw", "round.drawn", "round.close"} <= actions


def test_a_round_needs_a_published_policy(safety_lead):
    from auditcore.services.policy import policy_create

    draft = policy_create(actor=safety_lead, name="Draft", categories=[{"slug": "x"}])
    with pytest.raises(ApplicationError, match="published"):
        _round(safety_lead, policy_version=draft)


def test_surface_scope_limits_the_population(safety_lead, django_capture_on_commit_callbacks):
    from auditcore.models import Surface

    population({("medical", "refusal"): 10}, surface="chat")
    population({("medical", "refusal"): 7}, surface="api", start=500)
    audit_round = _round(safety_lead, surfaces=Surface.objects.filter(name="api"))
    audit_round = _draw(safety_lead, audit_round, django_capture_on_commit_callbacks)
    assert RoundStratum.objects.get(round=audit_round).population == 7
    surfaces = set(
        RoundItem.objects.filter(round=audit_round).values_list(
            "interaction__surface__name", flat=True
        )
    )
    assert surfaces == {"api"}


@pytest.mark.services
def test_a_real_worker_draws_a_round(celery_worker_process, safety_lead):
    from tests.conftest import require_services, wait_until

    require_services()
    population({("medical", "refusal"): 50, ("finance", "compliance"): 20})
    audit_round = _round(safety_lead, budget=30)
    round_draw_request(actor=safety_lead, audit_round=audit_round)
    tasks.round_draw_enqueue(audit_round.pk)  # autocommit: queued now

    def drawn() -> bool:
        audit_round.refresh_from_db()
        return audit_round.status == AuditRound.Status.OPEN

    assert wait_until(drawn, timeout=60)
    assert RoundItem.objects.filter(round=audit_round).count() == 30
    assert audit_round.draw_progress == 1.0


def test_late_arrivals_recompute_tau_and_pi_for_the_whole_stratum_and_keep_verdicts(
    safety_lead, reviewer, django_capture_on_commit_callbacks
):
    from auditcore.models import Verdict

    population({("medical", "refusal"): 200, ("finance", "refusal"): 120})
    audit_round = _round(safety_lead)
    # Quotas only: the late records leave the plan's n unchanged, only N grows.
    round_quotas_set(
        actor=safety_lead,
        audit_round=audit_round,
        quotas={("medical", "refusal"): 40, ("finance", "refusal"): 20},
    )
    AuditRound.objects.filter(pk=audit_round.pk).update(salt="late-arrivals")  # reproducible
    audit_round.refresh_from_db()
    audit_round = _draw(safety_lead, audit_round, django_capture_on_commit_callbacks)
    first = RoundItem.objects.filter(round=audit_round).order_by("id").first()
    VerdictFactory(
        item=first, reviewer=reviewer, locked_at=dt.datetime(2026, 11, 21, tzinfo=dt.UTC)
    )
    before = {
        s.stratum_key: (s.population, s.tau, s.sampled)
        for s in RoundStratum.objects.filter(round=audit_round)
    }
    drawn_before = set(RoundItem.objects.values_list("interaction_id", flat=True))

    # 150 late medical records for the same day and frame.
    last_id = Interaction.objects.order_by("-id").values_list("id", flat=True).first()
    population({("medical", "refusal"): 150}, start=5000)
    audit_round = _draw(safety_lead, audit_round, django_capture_on_commit_callbacks)

    assert drawn_before <= set(RoundItem.objects.values_list("interaction_id", flat=True))
    assert Verdict.objects.filter(item=first).count() == 1
    for stratum in RoundStratum.objects.filter(round=audit_round):
        ids, _x, keys = _keys(audit_round, stratum)
        assert stratum.population == len(ids)  # N_h is the current size
        order = np.sort(keys)
        items = list(RoundItem.objects.filter(stratum=stratum))
        assert len(items) == stratum.sampled
        # Every item, old or new, under the stratum's current τ: the (n+1)-th smallest key.
        assert stratum.tau == pytest.approx(order[stratum.sampled])
        for item in items:
            assert item.inclusion_probability == pytest.approx(min(1.0, stratum.tau))
            assert item.weight == pytest.approx(1 / item.inclusion_probability)
        total = sum(i.weight for i in items)
        assert total == pytest.approx(stratum.population, rel=0.25), stratum
    medical = RoundStratum.objects.get(round=audit_round, category="medical")
    assert before[medical.stratum_key][0] == 200
    assert medical.population == 350
    # The drawn items keep their keys, so the sample grows to every key below the threshold: the
    # late records under it join, and the stored n, τ and π describe the whole stratum again.
    assert medical.sampled > before[medical.stratum_key][2] == 40
    late = RoundItem.objects.filter(stratum=medical, interaction_id__gt=last_id)
    assert late.exists()
    finance = RoundStratum.objects.get(round=audit_round, category="finance")
    assert (finance.population, finance.tau) == before[finance.stratum_key][:2]
