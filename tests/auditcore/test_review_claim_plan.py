"""On an unanalysed PostgreSQL database, the claim's plan walks the round in queue order and
probes an index per candidate: no sort of the round, no scan of the verdicts or the judged set.

A fresh database (right after a draw, or with autovacuum off) has no statistics; the claim used
to scan every verdict once per pending item there. These tests read the plan PostgreSQL picks.
"""

import pytest
from django.db import connection, transaction
from django.utils import timezone

from auditcore.models import Interaction, JudgedItem, Lease, RoundItem, Verdict
from auditcore.selectors.review import available_items, claim_candidates
from auditcore.services import review as svc
from tests.conftest import require_services
from tests.factories import ReviewerFactory
from tests.support.planner import assert_unanalysed
from tests.support.review_round import make_large_round

pytestmark = pytest.mark.services

ITEMS = 3000


@pytest.fixture
def busy_round(db, reviewer):
    """A large round, much of it judged by other reviewers and some by `reviewer`, who also
    skipped one item."""
    require_services()
    audit_round = make_large_round(items=ITEMS, required_reviews=2, seed=3)
    items = list(
        audit_round.items.values_list("pk", "interaction_id", "interaction__prompt_digest")
    )
    others = ReviewerFactory.create_batch(4)
    JudgedItem.objects.bulk_create(
        JudgedItem(
            reviewer=who,
            item_id=pk,
            interaction_id=interaction,
            round=audit_round,
            prompt_digest=digest,
            policy_version_id=audit_round.policy_version_id,
        )
        for who in others
        for pk, interaction, digest in items[: ITEMS // 2]
    )
    for _ in range(20):
        lease = svc.lease_take_next(reviewer=reviewer)
        svc.verdict_submit(
            reviewer=reviewer, item_id=lease.item_id, decision="help", reason_code="general_info"
        )
    skipped = svc.lease_take_next(reviewer=reviewer)
    svc.lease_skip(reviewer=reviewer, item_id=skipped.item_id)
    assert_unanalysed(RoundItem, Lease, Verdict, JudgedItem, Interaction)
    return audit_round


def _plan(queryset) -> str:
    with transaction.atomic():
        svc.claim_settings()
        return queryset.select_for_update(skip_locked=True, of=("self",))[:1].explain()


def _assert_probes_by_index(plan: str) -> None:
    assert "Index Scan using round_item_queue on auditcore_rounditem" in plan, plan
    assert "Sort" not in plan, plan
    for table in ("auditcore_rounditem", "auditcore_verdict", "auditcore_judgeditem"):
        assert f"Seq Scan on {table}" not in plan, plan
    assert "Index Scan using judged_interaction on auditcore_judgeditem" in plan, plan
    assert "Index Scan using judged_prompt on auditcore_judgeditem" in plan, plan
    assert "Join" not in plan, plan


def test_the_claim_walks_the_round_in_queue_order_probing_indexes(busy_round, reviewer):
    now = timezone.now()
    for skipped in (False, True):
        plan = _plan(
            claim_candidates(reviewer=reviewer, now=now, round_id=busy_round.pk, skipped=skipped)
        )
        _assert_probes_by_index(plan)


def test_after_analyze_the_plan_keeps_its_shape_and_is_not_jit_compiled(busy_round, reviewer):
    # With statistics the planner prices the claim as a walk over the whole round, a cost
    # past jit_above_cost: compiling took far longer than the few probes the claim runs.
    with connection.cursor() as cursor:
        # The fixture's claims switched JIT off for the rest of this test's transaction.
        cursor.execute("SET jit = on")
        cursor.execute("SELECT pg_jit_available()")
        if not cursor.fetchone()[0]:
            pytest.skip("this PostgreSQL has no JIT")
        cursor.execute("ANALYZE")
        # Whatever the estimate: this round is too small to cross the default threshold.
        cursor.execute("SET jit_above_cost = 0")
    plan = _plan(
        claim_candidates(
            reviewer=reviewer, now=timezone.now(), round_id=busy_round.pk, skipped=False
        )
    )
    assert "Index Scan using round_item_queue on auditcore_rounditem" in plan, plan
    assert "Sort" not in plan, plan
    assert "JIT" not in plan, plan


def test_the_recheck_after_the_lock_reads_one_row_by_its_key(busy_round, reviewer):
    item = busy_round.items.order_by("queue_order").last()
    plan = available_items(reviewer=reviewer, now=timezone.now()).filter(pk=item.pk).explain()
    assert "Index Scan using auditcore_rounditem_pkey on auditcore_rounditem" in plan, plan
    assert "Seq Scan on auditcore_judgeditem" not in plan, plan


def test_the_claim_serves_what_the_plan_promises(busy_round, reviewer):
    # The plan is only worth checking if the query it belongs to answers right: the item is
    # the first in queue order that the reviewer has neither judged nor skipped.
    judged = set(JudgedItem.objects.filter(reviewer=reviewer).values_list("item_id", flat=True))
    skipped = set(Lease.objects.filter(reviewer=reviewer).values_list("item_id", flat=True))
    expected = next(
        item.pk
        for item in busy_round.items.filter(status=RoundItem.Status.PENDING).order_by("queue_order")
        if item.pk not in judged | skipped and item.verdict_count < item.required_reviews
    )
    assert svc.lease_take_next(reviewer=reviewer).item_id == expected
