"""What reviewers observed after the lock: resolved per item, disputed, settled by a lead."""

import pytest

from auditcore.exceptions import ApplicationError
from auditcore.models import AuditEvent, Interaction, RoundItem
from auditcore.selectors import estimates as sel
from auditcore.services import review as svc
from tests.support.review_round import items_of, make_round, offered_verdict

pytestmark = pytest.mark.django_db


def submit(reviewer, item, decision="help"):
    return offered_verdict(
        reviewer=reviewer, item_id=item.pk, decision=decision, reason_code="general_info"
    )


def observe(reviewer, item, model, served=""):
    return svc.verdict_observe(
        reviewer=reviewer, item_id=item.pk, observed_label=model, observed_served_label=served
    )


def test_one_reviewers_observations_become_the_items(reviewer):
    item = items_of(make_round(items=1))[0]
    submit(reviewer, item)
    verdict = observe(reviewer, item, "partial_refusal", "refusal")
    assert verdict.observed_served_label == "refusal"
    item.refresh_from_db()
    assert (item.observed_label, item.observed_served_label) == ("partial_refusal", "refusal")
    assert not item.observation_disputed


def test_the_served_answer_is_not_asked_when_the_gateway_left_it_alone(reviewer):
    item = items_of(make_round(items=1))[0]
    Interaction.objects.filter(pk=item.interaction_id).update(
        gateway_action="none", served_response=None
    )
    submit(reviewer, item)
    verdict = observe(reviewer, item, "compliance", "refusal")
    assert verdict.observed_served_label == ""
    item.refresh_from_db()
    assert item.observed_served_label == ""


def test_a_bad_served_observation_names_the_field(reviewer):
    item = items_of(make_round(items=1))[0]
    submit(reviewer, item)
    with pytest.raises(ApplicationError, match="observed_served_label") as caught:
        observe(reviewer, item, "compliance", "maybe")
    assert caught.value.extra["field"] == "observed_served_label"


def test_disagreeing_observations_wait_for_a_lead_whose_correction_wins(
    reviewer, second_reviewer, safety_lead
):
    item = items_of(make_round(items=1, required_reviews=2))[0]
    submit(reviewer, item)
    submit(second_reviewer, item)
    observe(reviewer, item, "compliance", "refusal")
    observe(second_reviewer, item, "partial_refusal", "refusal")
    item.refresh_from_db()
    assert item.observation_disputed
    assert (item.observed_label, item.observed_served_label) == ("", "refusal")
    with pytest.raises(ApplicationError, match="reason"):
        svc.observation_correct(
            actor=safety_lead, item_id=item.pk, observed_label="partial_refusal", reason=" "
        )
    svc.observation_correct(
        actor=safety_lead,
        item_id=item.pk,
        observed_label="partial_refusal",
        observed_served_label="refusal",
        reason="the answer lectures instead of helping",
    )
    item.refresh_from_db()
    assert (item.observed_label, item.observation_disputed) == ("partial_refusal", False)
    event = AuditEvent.objects.get(action="item.observation_correct", object_id=str(item.pk))
    assert event.before["observation_disputed"] is True
    assert event.after["observed_label"] == "partial_refusal"
    assert event.after["reason"] == "the answer lectures instead of helping"
    # A later observation does not move a lead's call.
    observe(reviewer, item, "compliance", "compliance")
    item.refresh_from_db()
    assert (item.observed_label, item.observed_served_label) == ("partial_refusal", "refusal")


def test_the_estimates_count_the_observation_not_the_classifier(reviewer):
    audit_round = make_round(items=2)
    first, second = items_of(audit_round)
    for item in (first, second):
        submit(reviewer, item)  # should help; the classifier says every answer refused
    observe(reviewer, first, "compliance", "compliance")
    frr = sel.round_estimates(audit_round).headline.layers
    # first: observed compliance at both layers; second: nobody observed, classifier refusal.
    assert frr["model"]["frr"].estimate == pytest.approx(0.5)
    assert frr["served"]["frr"].estimate == pytest.approx(0.5)
    assert RoundItem.objects.get(pk=first.pk).observed_label == "compliance"
