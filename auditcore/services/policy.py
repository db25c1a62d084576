"""Writes to the central policy: drafts, their categories, and publishing, which freezes one."""

from collections.abc import Iterable, Mapping
from typing import Any

from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser
from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Max
from django.utils import timezone

from auditcore.exceptions import ApplicationError
from auditcore.models import Category, Policy, PolicyVersion
from auditcore.models.policy import CATEGORY_FIELDS
from auditcore.policy_lint import diff_categories, lint_policy
from auditcore.services.audit import audit_event_record

EXPECTED_DECISIONS = ("help", "decline")


def _clean_lines(value: Any, field: str) -> list[str]:
    if value is None:
        return []
    if not isinstance(value, list | tuple):
        raise ApplicationError(f"{field}: expected a list of lines", {"field": field})
    return [str(v).strip() for v in value if str(v).strip()]


def _clean_reason_codes(value: Any) -> list[dict[str, str]]:
    codes = []
    for item in value or []:
        if not isinstance(item, Mapping) or not str(item.get("code", "")).strip():
            raise ApplicationError(
                "reason_codes: every reason code needs a code", {"field": "reason_codes"}
            )
        code = str(item["code"]).strip()
        codes.append({"code": code, "label": str(item.get("label", "")).strip() or code})
    seen = [c["code"] for c in codes]
    if len(seen) != len(set(seen)):
        raise ApplicationError("reason_codes: codes must be unique", {"field": "reason_codes"})
    return codes


def _clean_examples(value: Any) -> list[dict[str, str]]:
    examples = []
    for item in value or []:
        if not isinstance(item, Mapping) or not str(item.get("prompt", "")).strip():
            raise ApplicationError("examples: every example needs a prompt", {"field": "examples"})
        expected = str(item.get("expected", "")).strip()
        if expected not in EXPECTED_DECISIONS:
            raise ApplicationError(
                f"examples: expected decision must be help or decline, got {expected!r}",
                {"field": "examples"},
            )
        examples.append({"prompt": str(item["prompt"]).strip(), "expected": expected})
    return examples


def _category_fields(data: Mapping[str, Any]) -> dict[str, Any]:
    unknown = set(data) - set(CATEGORY_FIELDS)
    if unknown:
        raise ApplicationError(f"unknown category fields: {', '.join(sorted(unknown))}")
    fields: dict[str, Any] = {}
    for key, value in data.items():
        if key in ("help_when", "decline_when", "keywords"):
            fields[key] = _clean_lines(value, key)
        elif key == "reason_codes":
            fields[key] = _clean_reason_codes(value)
        elif key == "examples":
            fields[key] = _clean_examples(value)
        elif key == "high_stakes":
            fields[key] = bool(value)
        else:
            fields[key] = str(value).strip()
    return fields


def _require_draft(version: PolicyVersion) -> None:
    if version.status != PolicyVersion.Status.DRAFT:
        raise ApplicationError(
            f"{version} is published and cannot change; start a new draft from it.",
            {"field": "policy_version"},
        )


def _require_editable(version: PolicyVersion, actor: AbstractBaseUser | None) -> None:
    """A draft may change; a change withdraws its proposal, so approval covers what it sees."""
    _require_draft(version)
    if version.proposed_at is not None:
        by = version.proposed_by.get_username() if version.proposed_by else None
        version.proposed_by, version.proposed_at = None, None
        version.save(update_fields=["proposed_by", "proposed_at"])
        audit_event_record(
            actor=actor,
            action="policy.proposal_withdrawn",
            obj=version,
            before={"proposed_by": by},
            after={"reason": "the draft changed after it was proposed"},
        )


def _full_clean(obj: Any) -> None:
    try:
        obj.full_clean()
    except ValidationError as exc:
        field, messages = next(iter(exc.message_dict.items()))
        raise ApplicationError(f"{field}: {' '.join(messages)}", {"field": field}) from exc


def _locked_version(version: PolicyVersion) -> PolicyVersion:
    return PolicyVersion.objects.select_for_update().select_related("policy").get(pk=version.pk)


@transaction.atomic
def policy_create(
    *,
    actor: AbstractBaseUser | None,
    name: str,
    description: str = "",
    categories: Iterable[Mapping[str, Any]] = (),
) -> PolicyVersion:
    """A new policy with draft version 1 holding the given categories."""
    if Policy.objects.filter(name=name).exists():
        raise ApplicationError(f"name: a policy named {name!r} exists", {"field": "name"})
    policy = Policy(name=name, description=description)
    _full_clean(policy)
    policy.save()
    version = PolicyVersion(policy=policy, number=1, created_by=actor)
    _full_clean(version)
    version.save()
    for data in categories:
        fields = _category_fields(data)
        fields["name"] = fields.get("name") or fields.get("slug", "")
        category = Category(policy_version=version, **fields)
        _full_clean(category)
        category.save()
    audit_event_record(
        actor=actor, action="policy.create", obj=version, after={"policy": name, "number": 1}
    )
    return version


@transaction.atomic
def policy_version_draft_from(
    *, actor: AbstractBaseUser | None, source: PolicyVersion
) -> PolicyVersion:
    """A new draft of the same policy, a copy of `source` to edit."""
    Policy.objects.select_for_update().get(pk=source.policy_id)
    number = (
        PolicyVersion.objects.filter(policy_id=source.policy_id).aggregate(m=Max("number"))["m"] + 1
    )
    version = PolicyVersion(policy_id=source.policy_id, number=number, created_by=actor, notes="")
    _full_clean(version)
    version.save()
    Category.objects.bulk_create(
        Category(policy_version=version, **c.as_dict()) for c in source.categories.all()
    )
    audit_event_record(
        actor=actor,
        action="policy.draft",
        obj=version,
        after={"number": number, "from_version": source.pk},
    )
    return version


@transaction.atomic
def policy_version_update(
    *, actor: AbstractBaseUser | None, version: PolicyVersion, notes: str
) -> PolicyVersion:
    version = _locked_version(version)
    _require_editable(version, actor)
    before = {"notes": version.notes}
    version.notes = notes.strip()
    _full_clean(version)
    version.save(update_fields=["notes"])
    audit_event_record(
        actor=actor, action="policy.update", obj=version, before=before, after={"notes": notes}
    )
    return version


@transaction.atomic
def category_create(
    *, actor: AbstractBaseUser | None, version: PolicyVersion, data: Mapping[str, Any]
) -> Category:
    version = _locked_version(version)
    _require_editable(version, actor)
    fields = _category_fields(data)
    if not fields.get("slug"):
        raise ApplicationError("slug: a category needs a slug", {"field": "slug"})
    if version.categories.filter(slug=fields["slug"]).exists():
        raise ApplicationError(
            f"slug: {fields['slug']!r} is already a category of {version}", {"field": "slug"}
        )
    fields["name"] = fields.get("name") or fields["slug"]
    category = Category(policy_version=version, **fields)
    _full_clean(category)
    category.save()
    audit_event_record(
        actor=actor, action="policy.category_create", obj=category, after=category.as_dict()
    )
    return category


@transaction.atomic
def category_update(
    *, actor: AbstractBaseUser | None, category: Category, data: Mapping[str, Any]
) -> Category:
    _require_editable(_locked_version(category.policy_version), actor)
    category = Category.objects.get(pk=category.pk)
    before = category.as_dict()
    fields = _category_fields(data)
    if "slug" in fields and fields["slug"] != category.slug:
        taken = Category.objects.filter(
            policy_version_id=category.policy_version_id, slug=fields["slug"]
        ).exists()
        if taken:
            raise ApplicationError(f"slug: {fields['slug']!r} is taken", {"field": "slug"})
    for key, value in fields.items():
        setattr(category, key, value)
    _full_clean(category)
    category.save()
    after = category.as_dict()
    if after != before:
        audit_event_record(
            actor=actor, action="policy.category_update", obj=category, before=before, after=after
        )
    return category


@transaction.atomic
def category_delete(*, actor: AbstractBaseUser | None, category: Category) -> None:
    _require_editable(_locked_version(category.policy_version), actor)
    audit_event_record(
        actor=actor,
        action="policy.category_delete",
        obj=category,
        before=category.as_dict(),
    )
    category.delete()


@transaction.atomic
def policy_version_publish(
    *, actor: AbstractBaseUser | None, version: PolicyVersion
) -> PolicyVersion:
    """Freeze a draft and make it the current version. Lint flags are recorded, not blocking."""
    version = _locked_version(version)
    _require_draft(version)
    categories = _categories_to_publish(version)
    if actor is not None and not settings.POLICY_SINGLE_LEAD_PUBLISH:
        if version.proposed_at is None:
            raise ApplicationError(
                f"{version} has not been proposed: a safety lead proposes it, another approves.",
                {"field": "policy_version", "code": "not_proposed"},
            )
        if version.proposed_by_id == actor.pk:
            raise ApplicationError(
                f"{version} was proposed by you: a different safety lead must approve it.",
                {"field": "policy_version", "code": "same_lead"},
            )
    version.status = PolicyVersion.Status.PUBLISHED
    version.published_at = timezone.now()
    version.approved_by = actor
    _full_clean(version)
    version.save(update_fields=["status", "published_at", "approved_by"])
    flags = lint_policy(categories)
    audit_event_record(
        actor=actor,
        action="policy.publish",
        obj=version,
        before={"status": "draft"},
        after={
            "status": "published",
            "lint_flags": len(flags),
            "proposed_by": version.proposed_by.get_username() if version.proposed_by else None,
            "approved_by": actor.get_username() if actor is not None else None,
            "diff": policy_change_summary(version),
        },
    )
    return version


def _categories_to_publish(version: PolicyVersion) -> list[dict[str, Any]]:
    categories = [c.as_dict() for c in version.categories.all()]
    if not categories:
        raise ApplicationError(
            "categories: a policy version needs at least one category", {"field": "categories"}
        )
    return categories


def policy_change_summary(version: PolicyVersion) -> list[dict[str, Any]]:
    """What a draft changes against the policy's latest published version, for the audit log."""
    previous = (
        PolicyVersion.objects.filter(
            policy_id=version.policy_id, status=PolicyVersion.Status.PUBLISHED
        )
        .exclude(pk=version.pk)
        .order_by("-number")
        .first()
    )
    before = [c.as_dict() for c in previous.categories.all()] if previous else []
    after = [c.as_dict() for c in version.categories.all()]
    return [
        {
            "category": d.slug,
            "status": d.status,
            "lists": {c.field: {"added": c.added, "removed": c.removed} for c in d.lists},
            "scalars": {c.field: {"before": c.before, "after": c.after} for c in d.scalars},
        }
        for d in diff_categories(before, after)
        if d.changed
    ]


@transaction.atomic
def policy_version_propose(*, actor: AbstractBaseUser, version: PolicyVersion) -> PolicyVersion:
    """Put a draft up for approval by another safety lead; the log keeps what it changes."""
    version = _locked_version(version)
    _require_draft(version)
    _categories_to_publish(version)
    version.proposed_by, version.proposed_at = actor, timezone.now()
    version.save(update_fields=["proposed_by", "proposed_at"])
    audit_event_record(
        actor=actor,
        action="policy.propose",
        obj=version,
        after={"proposed_by": actor.get_username(), "diff": policy_change_summary(version)},
    )
    return version
