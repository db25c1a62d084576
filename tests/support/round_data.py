"""Builders for round tests: a published policy and a hand-built population with its counts."""

import datetime as dt
from collections import defaultdict

from auditcore import sampling, tasks
from auditcore.models import Interaction
from auditcore.services.policy import policy_create, policy_version_publish
from tests.factories import (
    InteractionFactory,
    ModelVersionFactory,
    StratumCountFactory,
    SurfaceFactory,
)
from tests.support.policy_review import publish_reviewed

DAY = dt.date(2026, 11, 20)


def draw(actor, audit_round, callbacks):
    """Request the draw and run the task on commit, as a worker would; the round refreshed."""
    from auditcore.services.rounds import round_draw_request

    with callbacks(execute=True):
        round_draw_request(actor=actor, audit_round=audit_round)
        tasks.round_draw_enqueue(audit_round.pk)
    audit_round.refresh_from_db()
    return audit_round


def published_policy(actor=None, categories=None):
    categories = categories or [
        {
            "slug": "medical",
            "name": "Medical",
            "help_when": ["General health information"],
            "decline_when": ["Dosages that would harm"],
        },
        {
            "slug": "finance",
            "name": "Finance",
            "help_when": ["Explaining how a product works"],
            "decline_when": ["Helping evade tax reporting that is required"],
        },
    ]
    version = policy_create(actor=actor, name="Central", categories=categories)
    if actor is None:
        return policy_version_publish(actor=None, version=version)
    return publish_reviewed(version, actor)


def population(
    spec, *, surface="chat", model="m1", day=DAY, start=0, weight=None, gateway_action="none"
):
    """spec: {(category, outcome): count}. Creates interactions and adds to StratumCount."""
    surface_obj = SurfaceFactory(name=surface)
    model_obj = ModelVersionFactory(name=model)
    rows = []
    sums = defaultdict(lambda: [0, 0.0, 0.0])
    i = start
    for (category, outcome), count in spec.items():
        for _ in range(count):
            i += 1
            external_id = f"{surface}-{model}-{day}-{i}"
            u = sampling.record_u(f"test\x1f{external_id}", "ingest-salt")
            w = weight(i) if weight else 1.0
            rows.append(
                InteractionFactory.build(
                    external_id=external_id,
                    occurred_at=dt.datetime.combine(day, dt.time(12), tzinfo=dt.UTC),
                    day=day,
                    surface=surface_obj,
                    model_version=model_obj,
                    prompt=f"prompt {i}",
                    response=f"response {i}",
                    gateway_action=gateway_action,
                    impact_weight=w,
                    category=category,
                    response_label=outcome,
                    u=u,
                )
            )
            s = sums[(category, outcome)]
            s[0] += 1
            s[1] += w
            s[2] += w * w
    Interaction.objects.bulk_create(rows)
    for (category, outcome), (n, s1, s2) in sums.items():
        count = StratumCountFactory(
            day=day,
            surface=surface_obj,
            model_version=model_obj,
            category=category,
            outcome=outcome,
            gateway_changed=gateway_action != "none",
        )
        count.count += n
        count.impact_sum += s1
        count.impact_sq_sum += s2
        count.save()
    return i
