"""Ingest jobs and the records they quarantined."""

from django.conf import settings
from django.db import models


class IngestJob(models.Model):
    class Status(models.TextChoices):
        QUEUED = "queued", "Queued"
        RUNNING = "running", "Running"
        SUCCEEDED = "succeeded", "Succeeded"
        FAILED = "failed", "Failed"

    class Origin(models.TextChoices):
        COMMAND = "command", "Command line"
        UPLOAD = "upload", "Browser upload"
        API = "api", "API push"

    source = models.CharField(max_length=100)
    origin = models.CharField(max_length=10, choices=Origin.choices)
    format = models.CharField(max_length=10, default="auto")
    filename = models.CharField(max_length=255, blank=True)
    file_path = models.CharField(max_length=1024, blank=True)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.QUEUED)
    total_bytes = models.BigIntegerField(default=0)
    bytes_done = models.BigIntegerField(default=0)
    received = models.PositiveIntegerField(default=0)
    inserted = models.PositiveIntegerField(default=0)
    duplicates = models.PositiveIntegerField(default=0)
    rejected = models.PositiveIntegerField(default=0)
    error = models.TextField(blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        indexes = [models.Index(fields=["status", "created_at"])]

    def __str__(self) -> str:
        return f"Ingest #{self.pk} ({self.source}, {self.status})"

    @property
    def is_finished(self) -> bool:
        return self.status in {self.Status.SUCCEEDED, self.Status.FAILED}

    @property
    def progress(self) -> float:
        """Share of the input read, in [0, 1]."""
        if self.is_finished:
            return 1.0
        if not self.total_bytes:
            return 0.0
        return min(1.0, self.bytes_done / self.total_bytes)


class QuarantinedRecord(models.Model):
    job = models.ForeignKey(IngestJob, on_delete=models.CASCADE, related_name="quarantined")
    line = models.PositiveIntegerField()
    field = models.CharField(max_length=100, blank=True)
    reason = models.TextField()
    excerpt = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["job", "line"]
        constraints = [
            # A resumed chunk must not quarantine the same line twice.
            models.UniqueConstraint(fields=["job", "line"], name="quarantine_line_unique_per_job"),
        ]

    def __str__(self) -> str:
        return f"job {self.job_id} line {self.line}: {self.reason}"
