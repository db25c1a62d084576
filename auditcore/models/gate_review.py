"""A safety lead's check of one classified replay response behind a gate decision."""

from django.conf import settings
from django.db import models

from auditcore.models.replay import GateDecision, ReplayResult
from auditcore.models.traffic import Label


class GateLabelReview(models.Model):
    """The label a safety lead gave a discordant response: the classifier's (confirmed) or not."""

    decision = models.ForeignKey(GateDecision, on_delete=models.CASCADE, related_name="reviews")
    result = models.ForeignKey(ReplayResult, on_delete=models.CASCADE, related_name="+")
    label = models.CharField(max_length=16, choices=Label.choices)
    # The classifier's label when the review was made, so "confirmed" never drifts.
    classifier_label = models.CharField(max_length=16, choices=Label.choices)
    reviewed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+"
    )
    reviewed_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["decision", "result"], name="gate_review_unique"),
        ]

    def __str__(self) -> str:
        return f"decision {self.decision_id} result {self.result_id}: {self.label}"

    @property
    def confirmed(self) -> bool:
        return self.label == self.classifier_label
