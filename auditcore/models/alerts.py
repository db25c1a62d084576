"""Alerts raised when a round's figures move: shown on the dashboard and sent to a webhook."""

from django.db import models


class Alert(models.Model):
    class Kind(models.TextChoices):
        FRR_RISE = "frr_rise", "False-refusal rate rose"
        DISPARITY = "disparity", "New disparity flag"
        INCONSISTENCY = "inconsistency", "New cross-surface inconsistency"

    kind = models.CharField(max_length=16, choices=Kind.choices)
    round = models.ForeignKey(
        "auditcore.AuditRound", on_delete=models.CASCADE, related_name="alerts"
    )
    # What the alert is about within the round (a layer, a segment, a prompt group): with kind
    # and round it makes the alert unique, so a repeated check raises nothing new.
    subject = models.CharField(max_length=300)
    message = models.TextField()
    created_at = models.DateTimeField(auto_now_add=True)
    sent_at = models.DateTimeField(null=True, blank=True)
    send_error = models.TextField(blank=True)
    dismissed = models.BooleanField(default=False)

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            models.UniqueConstraint(fields=["round", "kind", "subject"], name="alert_unique"),
        ]

    def __str__(self) -> str:
        return self.message[:80]
