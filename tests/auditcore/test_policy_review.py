"""Policy change review: one safety lead proposes a draft, another approves and publishes it."""

import pytest
from django.urls import reverse

from auditcore.exceptions import ApplicationError
from auditcore.models import AuditEvent, PolicyVersion
from auditcore.services.policy import (
    category_update,
    policy_create,
    policy_version_draft_from,
    policy_version_propose,
    policy_version_publish,
)
from tests.support.policy_review import proposing_lead, publish_reviewed

pytestmark = pytest.mark.django_db

MEDICAL = {
    "slug": "medical",
    "name": "Medical",
    "help_when": ["General health information"],
    "decline_when": ["Dosages that would harm"],
}


@pytest.fixture
def changed_draft(safety_lead):
    v1 = publish_reviewed(
        policy_create(actor=safety_lead, name="Central", categories=[MEDICAL]), safety_lead
    )
    v2 = policy_version_draft_from(actor=safety_lead, source=v1)
    category_update(
        actor=safety_lead,
        category=v2.categories.get(),
        data={"help_when": ["General health information", "Explaining a diagnosis"]},
    )
    return v2


def test_a_draft_publishes_only_with_a_different_leads_approval(changed_draft, safety_lead):
    author = proposing_lead()
    with pytest.raises(ApplicationError, match="has not been proposed"):
        policy_version_publish(actor=safety_lead, version=changed_draft)
    policy_version_propose(actor=author, version=changed_draft)
    with pytest.raises(ApplicationError, match="a different safety lead must approve"):
        policy_version_publish(actor=author, version=changed_draft)
    changed_draft.refresh_from_db()
    assert changed_draft.status == PolicyVersion.Status.DRAFT
    published = policy_version_publish(actor=safety_lead, version=changed_draft)
    assert (published.proposed_by, published.approved_by) == (author, safety_lead)
    event = AuditEvent.objects.filter(action="policy.publish", object_id=str(published.pk)).get()
    assert event.after["proposed_by"] == "proposing-lead"
    assert event.after["approved_by"] == safety_lead.username
    assert event.after["diff"] == [
        {
            "category": "medical",
            "status": "changed",
            "lists": {"help_when": {"added": ["Explaining a diagnosis"], "removed": []}},
            "scalars": {},
        }
    ]
    proposal = AuditEvent.objects.get(action="policy.propose", object_id=str(published.pk))
    assert proposal.after["diff"] == event.after["diff"]


def test_an_edit_after_the_proposal_withdraws_it(changed_draft, safety_lead):
    policy_version_propose(actor=proposing_lead(), version=changed_draft)
    category_update(
        actor=proposing_lead(), category=changed_draft.categories.get(), data={"name": "Health"}
    )
    changed_draft.refresh_from_db()
    assert changed_draft.proposed_at is None
    assert AuditEvent.objects.filter(action="policy.proposal_withdrawn").exists()
    with pytest.raises(ApplicationError, match="has not been proposed"):
        policy_version_publish(actor=safety_lead, version=changed_draft)


def test_a_small_team_may_publish_alone_when_the_setting_allows(
    changed_draft, safety_lead, settings
):
    settings.POLICY_SINGLE_LEAD_PUBLISH = True
    published = policy_version_publish(actor=safety_lead, version=changed_draft)
    assert published.is_published and published.approved_by == safety_lead


def test_the_publish_page_walks_the_proposal_and_the_approval(client, changed_draft, safety_lead):
    author = proposing_lead()
    client.force_login(author)
    page = client.get(reverse("policy:publish", args=[changed_draft.pk])).content.decode()
    assert reverse("policy:propose", args=[changed_draft.pk]) in page
    response = client.post(reverse("policy:propose", args=[changed_draft.pk]))
    assert response.status_code == 302
    page = client.get(reverse("policy:publish", args=[changed_draft.pk])).content.decode()
    assert "Proposed by you" in page and "Approve and publish" not in page
    refused = client.post(reverse("policy:publish", args=[changed_draft.pk]))
    assert refused.status_code == 400 and b"different safety lead" in refused.content
    client.force_login(safety_lead)
    page = client.get(reverse("policy:publish", args=[changed_draft.pk])).content.decode()
    assert "Proposed by <strong><bdi>proposing-lead</bdi></strong>" in page
    assert "Approve and publish" in page
    assert "help_when +1" in page
    assert client.post(reverse("policy:publish", args=[changed_draft.pk])).status_code == 302
    changed_draft.refresh_from_db()
    assert changed_draft.is_published and changed_draft.approved_by == safety_lead
