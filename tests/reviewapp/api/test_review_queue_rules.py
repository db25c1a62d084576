"""What a reviewer's queue may hand out, through the API: never an interaction they judged in
any round, never a second prompt with the same digest in a round, and a round's items in its
stored random order (not by priority key, which favours large size measures)."""

import numpy as np
import pytest
from scipy import stats

from auditcore import sampling, tasks
from auditcore.models import AuditRound, Interaction, RoundItem
from auditcore.services.rounds import round_create, round_draw_request
from tests.factories import RoundItemFactory
from tests.support.api import bearer
from tests.support.review_round import items_of, make_round
from tests.support.round_data import DAY, population, published_policy

pytestmark = pytest.mark.django_db


def _next(client, headers) -> int | None:
    body = client.get("/api/v1/review/next", **headers).json()
    return body["item"]["item_id"] if body["item"] else None


def _judge(client, headers, item_id: int) -> None:
    response = client.post(
        f"/api/v1/review/items/{item_id}/verdict",
        {"decision": "help", "reason_code": "general_info"},
        content_type="application/json",
        **headers,
    )
    assert response.status_code == 201, response.content


def test_an_interaction_judged_in_one_round_is_not_offered_again_in_another(
    client, reviewer, second_reviewer
):
    first = items_of(make_round(items=1))[0]
    later = make_round(items=0)
    again = RoundItemFactory(round=later, interaction=first.interaction)
    mine, theirs = bearer(reviewer), bearer(second_reviewer)
    assert _next(client, mine) == first.pk
    _judge(client, mine, first.pk)
    # The same interaction waits in the later round: not for me, but for someone who never saw it.
    assert _next(client, mine) is None
    assert _next(client, theirs) == again.pk


def test_a_prompt_judged_in_a_round_is_not_offered_again_in_that_round(
    client, reviewer, second_reviewer
):
    # Three items, the first two with the same prompt text (so the same digest).
    audit_round = make_round(items=3, prompt="Is it safe to mix these two medicines? #{i}")
    items = items_of(audit_round)
    same = items[1].interaction
    same.prompt = items[0].interaction.prompt
    same.prompt_digest = items[0].interaction.prompt_digest
    same.save()
    other_round_twin = make_round(items=1, prompt=items[0].interaction.prompt)
    mine, theirs = bearer(reviewer), bearer(second_reviewer)

    assert _next(client, mine) == items[0].pk
    _judge(client, mine, items[0].pk)
    assert _next(client, mine) == items[2].pk  # items[1] is the same prompt: passed over
    _judge(client, mine, items[2].pk)
    # The rule is per round: the same prompt in another round is a fresh item for me.
    assert _next(client, mine) == items_of(other_round_twin)[0].pk
    assert _next(client, theirs) == items[1].pk


def test_a_drawn_round_is_served_in_its_random_order_not_by_priority_key(
    client, reviewer, safety_lead, django_capture_on_commit_callbacks
):
    population({("medical", "refusal"): 400}, weight=lambda i: 0.2 + (i % 13) ** 2)
    audit_round = round_create(
        actor=safety_lead,
        name="Impact weighted",
        policy_version=published_policy(safety_lead),
        period_start=DAY,
        period_end=DAY,
        size_measure="impact",
        double_review_share=0.0,
        budget=120,
    )
    # A fixed salt makes the draw, and so this test, reproducible.
    AuditRound.objects.filter(pk=audit_round.pk).update(salt="queue-order-test")
    with django_capture_on_commit_callbacks(execute=True):
        round_draw_request(actor=safety_lead, audit_round=audit_round)
        tasks.round_draw_enqueue(audit_round.pk)
    audit_round.refresh_from_db()
    assert audit_round.items.count() >= 100

    headers = bearer(reviewer)
    served = []
    while (item_id := _next(client, headers)) is not None:
        served.append(item_id)
        _judge(client, headers, item_id)
    assert sorted(served) == sorted(audit_round.items.values_list("pk", flat=True))

    interaction_of = dict(RoundItem.objects.values_list("pk", "interaction_id"))
    record = {
        pk: (u, weight)
        for pk, u, weight in Interaction.objects.values_list("pk", "u", "impact_weight")
    }
    u, x = np.array([record[interaction_of[pk]] for pk in served]).T
    keys = sampling.round_u(u, "queue-order-test") / x
    position = np.arange(len(served))
    # Served by priority key, both correlations would be strong (1.0 with the key itself).
    assert abs(stats.spearmanr(position, keys).statistic) < 0.3
    assert abs(stats.spearmanr(position, x).statistic) < 0.3
    # So the first half reviewed is a fair half: its size measures look like the whole round's.
    half = len(served) // 2
    assert stats.mannwhitneyu(x[:half], x[half:]).pvalue > 0.01
