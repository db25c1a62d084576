"""Blind review: leases on items, locked verdicts, what reviewers saw revealed, adjudications."""

from django.conf import settings
from django.db import models

from auditcore.consistency import DIGEST_BYTES
from auditcore.models.policy import PolicyVersion
from auditcore.models.rounds import AuditRound, Decision, RoundItem
from auditcore.models.traffic import Interaction, Label


class Lease(models.Model):
    """A reviewer's hold on an item while its page is open."""

    item = models.ForeignKey(RoundItem, on_delete=models.CASCADE, related_name="leases")
    reviewer = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+"
    )
    taken_at = models.DateTimeField()
    expires_at = models.DateTimeField()
    # Set when the reviewer skips: the lease is released and the item goes to the back of
    # their own queue (other reviewers are not affected).
    skipped_at = models.DateTimeField(null=True, blank=True)
    # How often this reviewer skipped the item. Unlike skipped_at (cleared when the item comes
    # back, so the lease is live again) it survives, so the page can say "you skipped this".
    skips = models.PositiveSmallIntegerField(default=0)
    # Set when the reviewer took back their verdict on the item: they have seen what the model
    # did, so the verdict they give next is not blind (Verdict.after_reveal).
    seen_response = models.BooleanField(default=False)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["item", "reviewer"], name="lease_unique_per_reviewer"),
        ]
        indexes = [models.Index(fields=["expires_at"], name="lease_expiry")]

    def __str__(self) -> str:
        return f"lease on {self.item_id} by {self.reviewer_id}"


class Verdict(models.Model):
    """One reviewer's locked call on an item, stamped with the policy version it was made under."""

    item = models.ForeignKey(RoundItem, on_delete=models.PROTECT, related_name="verdicts")
    reviewer = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    decision = models.CharField(max_length=10, choices=Decision.choices)
    reason_code = models.CharField(max_length=50, blank=True)
    policy_clause = models.CharField(max_length=300, blank=True)
    note = models.TextField(blank=True)
    policy_version = models.ForeignKey(PolicyVersion, on_delete=models.PROTECT, related_name="+")
    seconds_spent = models.PositiveIntegerField(default=0)
    locked_at = models.DateTimeField()
    # After the reveal: what the reviewer saw the model do, and what the user was served (blank
    # when the gateway left the answer alone: then it is the model's answer).
    observed_label = models.CharField(max_length=16, choices=Label.choices, blank=True)
    observed_served_label = models.CharField(max_length=16, choices=Label.choices, blank=True)
    observed_at = models.DateTimeField(null=True, blank=True)
    # A re-review under a newer policy version keeps the old verdict, marked superseded.
    superseded = models.BooleanField(default=False)
    # Set when a safety lead corrected the locked verdict (the AuditEvent holds before/after).
    corrected_at = models.DateTimeField(null=True, blank=True)
    # The reviewer judged the item's category wrong, and which category of the version fits.
    category_wrong = models.BooleanField(default=False)
    suggested_category = models.SlugField(max_length=50, blank=True)
    # Given after the reviewer had seen the model's answer (their earlier verdict was taken back).
    after_reveal = models.BooleanField(default=False)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["item", "reviewer", "policy_version"],
                name="verdict_once_per_reviewer_and_version",
            ),
        ]
        indexes = [models.Index(fields=["reviewer", "locked_at"], name="verdict_by_reviewer")]

    def __str__(self) -> str:
        return f"{self.decision} on item {self.item_id} by {self.reviewer_id}"


class JudgedItem(models.Model):
    """An item a reviewer has given a verdict on: what their queue must never offer again.

    The claim probes this narrow table once per candidate item, by the interaction (never the
    same interaction twice, in any round) and by the prompt digest within the round (never the
    same prompt twice in a round). Its only indexes are the two that answer those probes, so
    PostgreSQL cannot pick a worse one when a fresh database has no statistics; the foreign keys
    are deliberately left without indexes of their own.
    """

    reviewer = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+", db_index=False
    )
    item = models.ForeignKey(RoundItem, on_delete=models.CASCADE, related_name="+", db_index=False)
    # The verdict was made under this version: a re-review of the same item under a newer one
    # is the one way a reviewer sees an item again.
    policy_version = models.ForeignKey(
        PolicyVersion, on_delete=models.CASCADE, related_name="+", db_index=False
    )
    # Copied from the item and its interaction, so the probes need no join.
    interaction = models.ForeignKey(
        Interaction, on_delete=models.CASCADE, related_name="+", db_index=False
    )
    round = models.ForeignKey(
        AuditRound, on_delete=models.CASCADE, related_name="+", db_index=False
    )
    prompt_digest = models.BinaryField(max_length=DIGEST_BYTES)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["reviewer", "item", "policy_version"], name="judged_once_per_version"
            ),
        ]
        indexes = [
            models.Index(fields=["reviewer", "interaction"], name="judged_interaction"),
            models.Index(fields=["reviewer", "round", "prompt_digest"], name="judged_prompt"),
        ]

    def __str__(self) -> str:
        return f"item {self.item_id} judged by {self.reviewer_id}"


class Adjudication(models.Model):
    """A safety lead's final call on an item whose verdicts disagree."""

    item = models.ForeignKey(RoundItem, on_delete=models.PROTECT, related_name="adjudications")
    adjudicator = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    decision = models.CharField(max_length=10, choices=Decision.choices)
    note = models.TextField(blank=True)
    policy_version = models.ForeignKey(PolicyVersion, on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"{self.decision} on item {self.item_id}"


class ItemComment(models.Model):
    """A line in an item's comment thread: reviewers after their lock, and safety leads."""

    item = models.ForeignKey(RoundItem, on_delete=models.CASCADE, related_name="comments")
    author = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    text = models.TextField(max_length=4000)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["created_at", "pk"]

    def __str__(self) -> str:
        return f"comment on item {self.item_id} by {self.author_id}"
