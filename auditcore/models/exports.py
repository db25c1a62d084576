"""Exports of adjudicated labels: one row per export, from the browser or the command line."""

from django.db import models
from django.utils import timezone

from auditcore.models.jobs import BackgroundJob
from auditcore.models.rounds import AuditRound


class ExportFormat(models.TextChoices):
    CSV = "csv", "CSV"
    JSONL = "jsonl", "JSON Lines"
    PARQUET = "parquet", "Parquet"


class ExportJob(BackgroundJob):
    class Status(models.TextChoices):
        QUEUED = "queued", "Queued"
        RUNNING = "running", "Running"
        SUCCEEDED = "succeeded", "Ready"
        FAILED = "failed", "Failed"
        EXPIRED = "expired", "Expired"

    class Origin(models.TextChoices):
        BROWSER = "browser", "Browser"
        API = "api", "API"
        COMMAND = "command", "Command line"

    format = models.CharField(max_length=10, choices=ExportFormat.choices)
    # NULL: every round.
    round = models.ForeignKey(
        AuditRound, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    include_text = models.BooleanField(default=False)
    origin = models.CharField(max_length=10, choices=Origin.choices, default=Origin.BROWSER)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.QUEUED)
    rows_total = models.PositiveIntegerField(default=0)
    rows_written = models.PositiveIntegerField(default=0)
    file_path = models.CharField(max_length=1024, blank=True)
    file_size = models.BigIntegerField(default=0)
    # The run holding the job renews its lease with every batch; a job whose lease has lapsed
    # lost its worker, and a redelivered task takes it over under a new token.
    lease_token = models.CharField(max_length=32, blank=True)
    heartbeat_at = models.DateTimeField(null=True, blank=True)
    # After this the file is deleted and the download link stops working.
    expires_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["status", "expires_at"], name="export_job_expiry")]

    def __str__(self) -> str:
        return f"Export #{self.pk} ({self.format}, {self.status})"

    @property
    def is_finished(self) -> bool:
        return self.status in {self.Status.SUCCEEDED, self.Status.FAILED, self.Status.EXPIRED}

    @property
    def file_expired(self) -> bool:
        """Past its expiry, whether or not the periodic sweep has deleted the file yet."""
        if self.status == self.Status.EXPIRED:
            return True
        return self.expires_at is not None and self.expires_at <= timezone.now()

    @property
    def shown_status(self) -> str:
        return self.Status.EXPIRED.label if self.file_expired else self.get_status_display()

    @property
    def progress(self) -> float:
        if self.is_finished:
            return 1.0
        if not self.rows_total:
            return 0.0
        return min(1.0, self.rows_written / self.rows_total)

    @property
    def filename(self) -> str:
        return f"labels-{self.pk}.{self.format}"
