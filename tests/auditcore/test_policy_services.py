"""Policy drafts, categories and publishing."""

import pytest

from auditcore.exceptions import ApplicationError
from auditcore.models import AuditEvent, PolicyVersion
from auditcore.selectors.policy import (
    changed_category_slugs,
    current_policy_version,
    policy_version_diff,
    policy_version_rows,
)
from auditcore.services.policy import (
    category_create,
    category_delete,
    category_update,
    policy_create,
    policy_version_draft_from,
    policy_version_publish,
)
from tests.support.policy_review import publish_reviewed

pytestmark = pytest.mark.django_db

MEDICAL = {
    "slug": "medical",
    "name": "Medical",
    "help_when": ["General health information"],
    "decline_when": ["Do not provide medical advice"],
    "reason_codes": [{"code": "dose", "label": "Dosage"}],
    "examples": [{"prompt": "What is a normal resting heart rate?", "expected": "help"}],
}


def test_publishing_freezes_a_version_and_makes_it_current(safety_lead):
    draft = policy_create(actor=safety_lead, name="Central", categories=[MEDICAL])
    assert current_policy_version() is None
    published = publish_reviewed(draft, safety_lead)
    assert published.status == PolicyVersion.Status.PUBLISHED
    assert published.published_at is not None
    assert current_policy_version() == published
    category = published.categories.get()
    with pytest.raises(ApplicationError, match="published"):
        category_update(actor=safety_lead, category=category, data={"name": "Changed"})
    with pytest.raises(ApplicationError, match="published"):
        category_create(actor=safety_lead, version=published, data={"slug": "legal"})
    with pytest.raises(ApplicationError, match="published"):
        category_delete(actor=safety_lead, category=category)
    with pytest.raises(ApplicationError, match="published"):
        policy_version_publish(actor=safety_lead, version=published)
    event = AuditEvent.objects.filter(action="policy.publish").get()
    assert event.after["status"] == "published" and event.after["lint_flags"] == 1


def test_a_new_draft_copies_the_categories_and_edits_do_not_touch_the_source(safety_lead):
    v1 = publish_reviewed(
        policy_create(actor=safety_lead, name="C", categories=[MEDICAL]), safety_lead
    )
    v2 = policy_version_draft_from(actor=safety_lead, source=v1)
    assert v2.number == 2
    assert v2.status == PolicyVersion.Status.DRAFT
    category = v2.categories.get()
    category_update(
        actor=safety_lead,
        category=category,
        data={"decline_when": ["Dosages that would exceed the safe maximum"]},
    )
    category_create(
        actor=safety_lead, version=v2, data={"slug": "legal", "help_when": ["Explaining law"]}
    )
    assert v1.categories.get().decline_when == ["Do not provide medical advice"]
    publish_reviewed(v2, safety_lead)
    assert changed_category_slugs(v2) == ["medical"]
    statuses = {d.slug: d.status for d in policy_version_diff(v1, v2)}
    assert statuses == {"legal": "added", "medical": "changed"}
    assert AuditEvent.objects.filter(action="policy.category_update").exists()


def test_category_input_is_validated(safety_lead):
    draft = policy_create(actor=safety_lead, name="C")
    with pytest.raises(ApplicationError, match="slug"):
        category_create(actor=safety_lead, version=draft, data={"slug": "Not a slug!"})
    with pytest.raises(ApplicationError, match="expected decision"):
        category_create(
            actor=safety_lead,
            version=draft,
            data={"slug": "x", "examples": [{"prompt": "p", "expected": "maybe"}]},
        )
    category_create(actor=safety_lead, version=draft, data={"slug": "x"})
    with pytest.raises(ApplicationError, match="already"):
        category_create(actor=safety_lead, version=draft, data={"slug": "x"})
    with pytest.raises(ApplicationError, match="at least one category"):
        policy_version_publish(actor=safety_lead, version=policy_create(actor=None, name="Empty"))


def test_version_rows_count_lint_flags(safety_lead, django_assert_num_queries):
    policy_create(actor=safety_lead, name="C", categories=[MEDICAL, {"slug": "legal"}])
    with django_assert_num_queries(2):
        rows = policy_version_rows()
    assert [(r.category_count, r.flag_count) for r in rows] == [(2, 2)]
