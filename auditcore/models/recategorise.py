"""Re-categorising stored traffic under a newly published policy version, as a background job."""

from django.db import models

from auditcore.models.jobs import BackgroundJob
from auditcore.models.policy import PolicyVersion


class RecategoriseJob(BackgroundJob):
    """One pass of a version's category classifier over the stored interactions of a period.

    Interactions drawn into a round are left alone: their items keep the stratum (and the
    category, the policy text and the verdicts) they were drawn and judged under.
    """

    class Status(models.TextChoices):
        QUEUED = "queued", "Queued"
        RUNNING = "running", "Running"
        SUCCEEDED = "succeeded", "Finished"
        FAILED = "failed", "Failed"

    policy_version = models.ForeignKey(PolicyVersion, on_delete=models.PROTECT, related_name="+")
    period_start = models.DateField()
    period_end = models.DateField()
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.QUEUED)
    # Interactions of the period the job classifies, and the drawn ones it leaves alone.
    total = models.PositiveIntegerField(default=0)
    drawn = models.PositiveIntegerField(default=0)
    processed = models.PositiveIntegerField(default=0)
    changed = models.PositiveIntegerField(default=0)
    # The checkpoint: every interaction up to this id is done, so a rerun starts after it.
    last_pk = models.BigIntegerField(default=0)
    # {"old→new": count} of the interactions whose category changed.
    transitions = models.JSONField(default=dict, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(period_start__lte=models.F("period_end")),
                name="recategorise_period_ordered",
            ),
        ]

    def __str__(self) -> str:
        return f"Re-categorise #{self.pk} ({self.policy_version_id}, {self.status})"

    @property
    def is_finished(self) -> bool:
        return self.status in {self.Status.SUCCEEDED, self.Status.FAILED}

    @property
    def progress(self) -> float:
        if self.status == self.Status.SUCCEEDED:
            return 1.0
        if not self.total:
            return 0.0
        return min(1.0, self.processed / self.total)

    @property
    def transition_rows(self) -> list[tuple[str, str, int]]:
        """(old, new, count), the largest moves first."""
        rows = [(*key.split("→", 1), n) for key, n in self.transitions.items()]
        return sorted(rows, key=lambda r: (-r[2], r[0], r[1]))
