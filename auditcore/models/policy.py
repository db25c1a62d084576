"""The central policy: versions and their help-when / decline-when categories."""

from typing import Any

from django.conf import settings
from django.db import models


class Policy(models.Model):
    name = models.CharField(max_length=100, unique=True)
    description = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name_plural = "policies"
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class PolicyVersion(models.Model):
    class Status(models.TextChoices):
        DRAFT = "draft", "Draft"
        PUBLISHED = "published", "Published"

    policy = models.ForeignKey(Policy, on_delete=models.PROTECT, related_name="versions")
    number = models.PositiveIntegerField()
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.DRAFT)
    notes = models.TextField(blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    published_at = models.DateTimeField(null=True, blank=True)
    # Review of a change: one safety lead proposes the draft, another approves (publishes) it.
    # An edit after the proposal withdraws it, so what is approved is what was proposed.
    proposed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    proposed_at = models.DateTimeField(null=True, blank=True)
    approved_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )

    class Meta:
        ordering = ["policy", "-number"]
        constraints = [
            models.UniqueConstraint(
                fields=["policy", "number"], name="policy_version_number_unique"
            ),
            models.CheckConstraint(
                condition=models.Q(status="draft") | models.Q(published_at__isnull=False),
                name="policy_version_published_has_time",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.policy.name} v{self.number}"

    @property
    def is_published(self) -> bool:
        return self.status == self.Status.PUBLISHED


# A category's content: what a draft copies, the audit trail records, lint reads and diffs compare.
CATEGORY_FIELDS = (
    "slug",
    "name",
    "description",
    "help_when",
    "decline_when",
    "reason_codes",
    "examples",
    "keywords",
    "high_stakes",
)


class Category(models.Model):
    """A policy category written as help-when / decline-when conditions."""

    policy_version = models.ForeignKey(
        PolicyVersion, on_delete=models.CASCADE, related_name="categories"
    )
    slug = models.SlugField(max_length=50)
    name = models.CharField(max_length=100)
    description = models.TextField(blank=True)
    help_when = models.JSONField(default=list, blank=True)
    decline_when = models.JSONField(default=list, blank=True)
    # [{"code": "...", "label": "..."}]
    reason_codes = models.JSONField(default=list, blank=True)
    # [{"prompt": "...", "expected": "help" | "decline"}]
    examples = models.JSONField(default=list, blank=True)
    keywords = models.JSONField(default=list, blank=True)
    high_stakes = models.BooleanField(default=False)

    class Meta:
        verbose_name_plural = "categories"
        ordering = ["policy_version", "slug"]
        constraints = [
            models.UniqueConstraint(
                fields=["policy_version", "slug"], name="category_slug_unique_per_version"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.policy_version})"

    def as_dict(self) -> dict[str, Any]:
        return {f: getattr(self, f) for f in CATEGORY_FIELDS}
