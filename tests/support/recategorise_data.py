"""A policy whose new version adds "fraud": v1 files phishing under "security", v2 under "fraud"."""

from auditcore.services.policy import category_create, policy_create, policy_version_draft_from
from tests.support.policy_review import publish_reviewed

SECURITY = {"slug": "security", "name": "Security", "keywords": ["hack", "malware", "phishing"]}
FRAUD = {"slug": "fraud", "name": "Fraud", "keywords": ["phishing", "scam", "fraud"]}
PHISHING_PROMPT = "Is this text message a phishing scam? #{i}"


def published_v1(lead):
    version = policy_create(actor=lead, name="Acme policy", categories=[SECURITY])
    return publish_reviewed(version, lead)


def draft_adding_fraud(lead, v1):
    draft = policy_version_draft_from(actor=lead, source=v1)
    category_create(actor=lead, version=draft, data=FRAUD)
    return draft
