"""Publish a policy draft the way a team does: one safety lead proposes, another approves."""

from django.contrib.auth import get_user_model

from auditcore.services.policy import policy_version_propose, policy_version_publish
from tests.factories import SafetyLeadFactory


def proposing_lead():
    existing = get_user_model().objects.filter(username="proposing-lead").first()
    return existing or SafetyLeadFactory(username="proposing-lead", password="proposing-lead-2026")


def publish_reviewed(version, approver):
    policy_version_propose(actor=proposing_lead(), version=version)
    return policy_version_publish(actor=approver, version=version)
