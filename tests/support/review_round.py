"""A round ready for review, made from the factories (no draw needed), and a verdict submitted
the way a reviewer's queue would let them."""

import random

from auditcore.models import AuditRound, Interaction, RoundItem
from auditcore.services import review as review_svc
from tests.factories import (
    DAY,
    AuditRoundFactory,
    InteractionFactory,
    LeaseFactory,
    ModelVersionFactory,
    PolicyVersionFactory,
    RoundItemFactory,
    RoundStratumFactory,
    SurfaceFactory,
)

# Appears only in what the model did: responses, served responses, detector fields, model name.
MARKER = "ZQXMODELSAIDTHIS"
EARLIER_TURNS = [
    {"role": "user", "content": "Hello there"},
    {"role": "assistant", "content": "Hi! How can I help today?"},
]


def make_round(
    *,
    items: int = 3,
    required_reviews: int = 1,
    status: str = AuditRound.Status.OPEN,
    gold: dict[int, str] | None = None,
    earlier_turns: list | None = None,
    prompt: str = "How much paracetamol is safe? #{i}",
) -> AuditRound:
    """A round of `items` refused medical items (queue_order 0, 1, ...) in one stratum, whose
    responses, served responses, detector and model name carry MARKER; `gold` maps an item's
    index to its gold decision."""
    audit_round = AuditRoundFactory(policy_version=PolicyVersionFactory(), status=status)
    model = ModelVersionFactory(name=f"model-{MARKER}")
    stratum = RoundStratumFactory(
        round=audit_round,
        stratum_key=f"{DAY}|medical|refusal|{model.pk}",
        model_version=model,
        planned=items,
    )
    gold = gold or {}
    for i in range(items):
        interaction = InteractionFactory(
            external_id=f"r{audit_round.pk}-{i}",
            surface=SurfaceFactory(name="web"),
            model_version=model,
            prompt=prompt.format(i=i),
            earlier_turns=EARLIER_TURNS if earlier_turns is None else earlier_turns,
            response=f"I can't help with that. {MARKER}-response-{i}",
            served_response=f"Blocked by the gateway {MARKER}-served-{i}",
            gateway_action="replaced",
            category_score=0.913,
            response_score=0.987654,
            detector_version=f"det-{MARKER}",
            stratum_key=stratum.stratum_key,
            metadata={"note": MARKER},
        )
        RoundItemFactory(
            round=audit_round,
            interaction=interaction,
            stratum=stratum,
            inclusion_probability=0.5,
            required_reviews=required_reviews,
            queue_order=float(i),
            is_gold=i in gold,
            gold_decision=gold.get(i, ""),
        )
    return audit_round


def make_large_round(*, items: int, required_reviews: int = 1, seed: int = 0) -> AuditRound:
    """An open round of `items` items written in bulk, in a random queue order (like a draw)."""
    rng = random.Random(seed)
    audit_round = make_round(items=0)
    stratum = audit_round.strata.get()
    surface = SurfaceFactory(name="web")
    interactions = Interaction.objects.bulk_create(
        InteractionFactory.build(
            external_id=f"large{audit_round.pk}-{i}",
            surface=surface,
            model_version=stratum.model_version,
            prompt=f"Large round prompt {audit_round.pk}-{i}",
            response=f"I can't help with that. {MARKER}",
            stratum_key=stratum.stratum_key,
        )
        for i in range(items)
    )
    RoundItem.objects.bulk_create(
        RoundItemFactory.build(
            round=audit_round,
            interaction=interaction,
            stratum=stratum,
            required_reviews=required_reviews,
            queue_order=rng.random(),
        )
        for interaction in interactions
    )
    return audit_round


def items_of(audit_round: AuditRound) -> list[RoundItem]:
    return list(audit_round.items.order_by("queue_order"))


def offered_verdict(*, reviewer, item_id: int, **kw):
    """Offer the item to the reviewer (a lease, as their queue would) and submit their verdict.

    verdict_submit takes verdicts only on items leased to the reviewer; tests that pick items
    directly, not in queue order, stand in for the queue here.
    """
    LeaseFactory(item=RoundItem.objects.get(pk=item_id), reviewer=reviewer)
    return review_svc.verdict_submit(reviewer=reviewer, item_id=item_id, **kw)


def rounds_under_three_versions(reviewer, *, first_items: int = 3) -> dict:
    """Rounds A (one item judged) and B (2 items) under v1; C (2) under v2; v3 just published."""
    v1 = PolicyVersionFactory(number=1)
    a, b = make_round(items=first_items), make_round(items=2)
    review_svc.lease_take_next(reviewer=reviewer)
    judged = items_of(a)[0]
    offered_verdict(
        reviewer=reviewer, item_id=judged.pk, decision="help", reason_code="general_info"
    )
    v2 = PolicyVersionFactory(number=2)
    c = make_round(items=2)
    AuditRound.objects.filter(pk=c.pk).update(policy_version=v2)
    RoundItem.objects.filter(round=c).update(policy_version=v2)
    v3 = PolicyVersionFactory(number=3)
    return {"v1": v1, "v2": v2, "v3": v3, "a": a, "b": b, "c": c, "judged": judged}
