"""Reads of the central policy: versions, the current one, lint flags and diffs."""

from dataclasses import dataclass

from django.db.models import Count, QuerySet

from auditcore.detection.category import CategorySpec
from auditcore.detection.default_policy import default_category_specs
from auditcore.models import Category, PolicyVersion
from auditcore.policy_lint import CategoryDiff, LintFlag, diff_categories, lint_policy


@dataclass(frozen=True)
class VersionRow:
    version: PolicyVersion
    category_count: int
    flag_count: int


def policy_versions() -> QuerySet[PolicyVersion]:
    return PolicyVersion.objects.select_related("policy", "created_by").annotate(
        category_count=Count("categories")
    )


def policy_version_rows() -> list[VersionRow]:
    """Every version with its category count and lint flag count (two queries)."""
    versions = list(policy_versions().order_by("policy__name", "-number"))
    by_version: dict[int, list[dict]] = {v.pk: [] for v in versions}
    for category in Category.objects.filter(policy_version__in=by_version).order_by("slug"):
        by_version[category.policy_version_id].append(category.as_dict())
    return [VersionRow(v, v.category_count, len(lint_policy(by_version[v.pk]))) for v in versions]


def current_policy_version() -> PolicyVersion | None:
    """The most recently published version, or None before anything is published."""
    return (
        PolicyVersion.objects.filter(status=PolicyVersion.Status.PUBLISHED)
        .select_related("policy")
        .order_by("-published_at", "-pk")
        .first()
    )


def policy_version_flags(version: PolicyVersion) -> list[LintFlag]:
    return lint_policy(c.as_dict() for c in version.categories.all())


def policy_version_diff(old: PolicyVersion, new: PolicyVersion) -> list[CategoryDiff]:
    return diff_categories(
        [c.as_dict() for c in old.categories.all()],
        [c.as_dict() for c in new.categories.all()],
    )


def previous_published_version(version: PolicyVersion) -> PolicyVersion | None:
    return (
        PolicyVersion.objects.filter(
            policy_id=version.policy_id,
            status=PolicyVersion.Status.PUBLISHED,
            number__lt=version.number,
        )
        .order_by("-number")
        .first()
    )


def changed_category_slugs(version: PolicyVersion) -> list[str]:
    """Categories that differ from the previous published version of the same policy."""
    previous = previous_published_version(version)
    if previous is None:
        return []
    return [d.slug for d in policy_version_diff(previous, version) if d.status == "changed"]


def current_category_specs() -> list[CategorySpec]:
    """The published policy's categories for the classifier; the default policy before any."""
    version = current_policy_version()
    if version is None:
        return default_category_specs()
    return category_specs(version)


def category_specs(version: PolicyVersion) -> list[CategorySpec]:
    """A policy version's categories as the category classifier reads them."""
    return [
        CategorySpec(
            slug=c.slug,
            name=c.name,
            keywords=tuple(c.keywords),
            examples=tuple(e["prompt"] for e in c.examples if e.get("prompt")),
            high_stakes=c.high_stakes,
        )
        for c in version.categories.order_by("slug")
    ]
