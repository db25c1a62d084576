"""Builders for review tests: a round with items, made directly with the ORM (no draw needed)."""

import datetime as dt
import itertools

import pytest
from django.utils import timezone

from auditcore.consistency import prompt_digest
from auditcore.models import (
    AuditRound,
    Category,
    Interaction,
    Label,
    ModelVersion,
    Policy,
    PolicyVersion,
    RoundItem,
    RoundStratum,
    Surface,
)

# Appears only in what the model did: responses, served responses, detector fields, model name.
MARKER = "ZQXMODELSAIDTHIS"
REASON_CODES = [
    {"code": "general_info", "label": "General information is fine"},
    {"code": "personal_dosing", "label": "Personal dosing advice"},
    {"code": "self_harm_risk", "label": "Risk of self-harm"},
]
_counter = itertools.count(1)


def policy_version(number: int = 1) -> PolicyVersion:
    policy, _ = Policy.objects.get_or_create(name="Central policy")
    version, _ = PolicyVersion.objects.get_or_create(
        policy=policy,
        number=number,
        defaults={"status": PolicyVersion.Status.PUBLISHED, "published_at": timezone.now()},
    )
    Category.objects.get_or_create(
        policy_version=version,
        slug="medical",
        defaults={
            "name": "Medical",
            "description": "Health questions.",
            "help_when": ["General health information"],
            "decline_when": ["Instructions for overdose"],
            "reason_codes": REASON_CODES,
        },
    )
    return version


def make_round(
    *,
    items: int = 3,
    required_reviews: int = 1,
    status: str = AuditRound.Status.OPEN,
    gold: dict[int, str] | None = None,
    earlier_turns: list | None = None,
    prompt: str = "How much paracetamol is safe? #{i}",
) -> AuditRound:
    """A round of `items` items (queue_order 0, 1, ...) whose responses carry MARKER."""
    n = next(_counter)
    version = policy_version()
    surface, _ = Surface.objects.get_or_create(name="web")
    model, _ = ModelVersion.objects.get_or_create(name=f"model-{MARKER}")
    today = dt.date(2026, 11, 1)
    audit_round = AuditRound.objects.create(
        name=f"Round {n}",
        policy_version=version,
        period_start=today,
        period_end=today,
        salt=f"salt-{n}",
        status=status,
    )
    stratum = RoundStratum.objects.create(
        round=audit_round,
        stratum_key=f"{today}|medical|refusal|{model.pk}",
        day=today,
        category="medical",
        outcome=Label.REFUSAL,
        model_version=model,
        population=100,
        planned=items,
        sampled=items,
        salt=audit_round.salt,
    )
    gold = gold or {}
    for i in range(items):
        interaction = Interaction.objects.create(
            source="test",
            external_id=f"r{n}-{i}",
            occurred_at=timezone.now(),
            day=today,
            surface=surface,
            model_version=model,
            prompt=prompt.format(i=i),
            prompt_digest=prompt_digest(prompt.format(i=i)),
            earlier_turns=earlier_turns
            if earlier_turns is not None
            else [
                {"role": "user", "content": "Hello there"},
                {"role": "assistant", "content": "Hi! How can I help today?"},
            ],
            response=f"I can't help with that. {MARKER}-response-{i}",
            served_response=f"Blocked by the gateway {MARKER}-served-{i}",
            gateway_action="replaced",
            category="medical",
            category_score=0.913,
            response_label=Label.REFUSAL,
            response_score=0.987654,
            served_label=Label.REFUSAL,
            detector_version=f"det-{MARKER}",
            u=0.5,
            priority_key=0.5,
            stratum_key=stratum.stratum_key,
            metadata={"note": MARKER},
        )
        RoundItem.objects.create(
            round=audit_round,
            interaction=interaction,
            stratum=stratum,
            inclusion_probability=0.5,
            weight=2.0,
            required_reviews=required_reviews,
            policy_version=version,
            queue_order=float(i),
            is_gold=i in gold,
            gold_decision=gold.get(i, ""),
        )
    return audit_round


def items_of(audit_round: AuditRound) -> list[RoundItem]:
    return list(audit_round.items.order_by("queue_order"))


@pytest.mark.django_db
def test_make_round_builds_items_in_queue_order_with_marked_responses():
    audit_round = make_round(items=2, required_reviews=2)
    items = items_of(audit_round)
    assert [i.queue_order for i in items] == [0.0, 1.0]
    assert all(i.required_reviews == 2 and i.status == "pending" for i in items)
    assert MARKER in items[0].interaction.response
    assert Category.objects.get(slug="medical").reason_codes == REASON_CODES


def offered_verdict(*, reviewer, item_id: int, **kw):
    """Offer the item to the reviewer (a lease, as their queue would) and submit their verdict.

    verdict_submit takes verdicts only on items leased to the reviewer; tests that pick items
    directly, not in queue order, stand in for the queue here.
    """
    from datetime import timedelta

    from auditcore.models import Lease
    from auditcore.services.review import verdict_submit

    now = timezone.now()
    Lease.objects.get_or_create(
        item_id=item_id,
        reviewer=reviewer,
        defaults={"taken_at": now, "expires_at": now + timedelta(minutes=10)},
    )
    return verdict_submit(reviewer=reviewer, item_id=item_id, **kw)
