"""Adjudication and audited corrections of locked verdicts by safety leads."""

import pytest

from auditcore.exceptions import ApplicationError
from auditcore.models import Adjudication, AuditEvent
from auditcore.selectors.review import adjudication_queue
from auditcore.services import review as svc
from tests.support.review_round import items_of, make_round, offered_verdict

pytestmark = pytest.mark.django_db


def disagreeing_item(first, second):
    item = items_of(make_round(items=1, required_reviews=2))[0]
    offered_verdict(reviewer=first, item_id=item.pk, decision="help", reason_code="general_info")
    offered_verdict(
        reviewer=second, item_id=item.pk, decision="decline", reason_code="personal_dosing"
    )
    item.refresh_from_db()
    return item


def test_disagreeing_items_wait_in_the_adjudication_queue_with_their_verdicts(
    reviewer, second_reviewer
):
    item = disagreeing_item(reviewer, second_reviewer)
    rows = adjudication_queue()
    assert [(r.item_id, r.decisions) for r in rows] == [(item.pk, ["help", "decline"])]


def test_adjudication_sets_the_final_verdict_and_is_audited(reviewer, second_reviewer, safety_lead):
    item = disagreeing_item(reviewer, second_reviewer)
    adjudication = svc.adjudication_record(
        adjudicator=safety_lead, item_id=item.pk, decision="decline", note="Dosing for a child."
    )
    item.refresh_from_db()
    assert (item.status, item.final_decision) == ("done", "decline")
    assert adjudication.policy_version_id == item.policy_version_id
    event = AuditEvent.objects.get(action="item.adjudicate")
    assert event.actor == safety_lead
    assert event.before == {"status": "adjudication", "final_decision": ""}
    assert event.after["final_decision"] == "decline"
    assert adjudication_queue() == []


def test_an_item_without_verdicts_cannot_be_adjudicated(safety_lead):
    item = items_of(make_round(items=1))[0]
    with pytest.raises(ApplicationError, match="no verdicts"):
        svc.adjudication_record(adjudicator=safety_lead, item_id=item.pk, decision="help")
    assert not Adjudication.objects.exists()


def test_a_correction_changes_a_locked_verdict_with_before_and_after_in_the_audit_log(
    reviewer, second_reviewer, safety_lead
):
    item = disagreeing_item(reviewer, second_reviewer)
    verdict = item.verdicts.get(reviewer=second_reviewer)
    svc.verdict_correct(
        actor=safety_lead,
        verdict_id=verdict.pk,
        decision="help",
        reason_code="general_info",
        reason="Misread the prompt: it asks for general information.",
    )
    verdict.refresh_from_db()
    assert verdict.decision == "help" and verdict.corrected_at is not None
    event = AuditEvent.objects.get(action="verdict.correct")
    assert event.actor == safety_lead
    assert event.object_id == str(verdict.pk)
    assert event.before["decision"] == "decline"
    assert event.after["decision"] == "help"
    assert event.after["reason"].startswith("Misread")
    # Both verdicts now agree, so the item is final without adjudication.
    item.refresh_from_db()
    assert (item.status, item.final_decision) == ("done", "help")


def test_a_correction_needs_a_reason(reviewer, second_reviewer, safety_lead):
    item = disagreeing_item(reviewer, second_reviewer)
    verdict = item.verdicts.first()
    with pytest.raises(ApplicationError, match="reason"):
        svc.verdict_correct(actor=safety_lead, verdict_id=verdict.pk, decision="help", reason=" ")
    assert not AuditEvent.objects.filter(action="verdict.correct").exists()


def test_a_correction_after_adjudication_keeps_the_adjudicated_final(
    reviewer, second_reviewer, safety_lead
):
    item = disagreeing_item(reviewer, second_reviewer)
    svc.adjudication_record(adjudicator=safety_lead, item_id=item.pk, decision="decline")
    verdict = item.verdicts.get(reviewer=second_reviewer)
    svc.verdict_correct(actor=safety_lead, verdict_id=verdict.pk, decision="help", reason="typo")
    item.refresh_from_db()
    assert (item.status, item.final_decision) == ("done", "decline")
