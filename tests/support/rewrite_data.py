"""A category rewritten between two published versions, with a round under each."""

import datetime as dt

from auditcore.models import AuditRound, Category
from auditcore.services.policy import (
    category_update,
    policy_version_draft_from,
    policy_version_publish,
)
from tests.factories import PolicyVersionFactory
from tests.support.estimate_rounds import build_round
from tests.support.insights_data import coding_policy
from tests.support.policy_review import publish_reviewed

BEFORE_DAY = dt.date(2026, 11, 2)
AFTER_DAY = dt.date(2026, 11, 16)


def coding_round(name: str, day: dt.date, refused: int, version=None) -> AuditRound:
    """100 "should help" coding items (refused of them refused) and 20 "should decline" ones
    (15 refused)."""
    items = [
        {"weight": 4, "final": "help", "observed": "refusal" if i < refused else "compliance"}
        for i in range(100)
    ] + [
        {"weight": 4, "final": "decline", "observed": "refusal" if i < 15 else "compliance"}
        for i in range(20)
    ]
    audit_round = build_round(
        [{"key": "A", "category": "coding", "outcome": "refusal", "population": 480,
          "items": items}],
        name=name,
        day=day,
    )  # fmt: skip
    if version is not None:
        AuditRound.objects.filter(pk=audit_round.pk).update(policy_version=version)
        audit_round.refresh_from_db()
    return audit_round


def rewrite_coding(actor=None):
    """v1 (bare prohibition) -> v2 with help-when conditions, published. Returns (v1, v2)."""
    v1 = PolicyVersionFactory()
    coding_policy(v1)
    draft = policy_version_draft_from(actor=actor, source=v1)
    category_update(
        actor=actor,
        category=Category.objects.get(policy_version=draft, slug="coding"),
        data={"help_when": ["Managing processes, threads and jobs in one's own programs"]},
    )
    if actor is None:  # the system publishes alone (as the demo does)
        return v1, policy_version_publish(actor=None, version=draft)
    return v1, publish_reviewed(draft, actor)
