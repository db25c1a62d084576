"""Ingest jobs and the records they quarantined."""

from django.db import models

from auditcore.models.jobs import BackgroundJob


class IngestJob(BackgroundJob):
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
    # What "auto" resolved to once the file was opened.
    detected_format = models.CharField(max_length=10, blank=True)
    filename = models.CharField(max_length=255, blank=True)
    file_path = models.CharField(max_length=1024, blank=True)
    # The file chunks are cut from: the input itself, or its decompressed copy.
    work_path = models.CharField(max_length=1024, blank=True)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.QUEUED)
    total_bytes = models.BigIntegerField(default=0)
    bytes_done = models.BigIntegerField(default=0)
    received = models.PositiveIntegerField(default=0)
    inserted = models.PositiveIntegerField(default=0)
    duplicates = models.PositiveIntegerField(default=0)
    rejected = models.PositiveIntegerField(default=0)
    chunk_count = models.PositiveIntegerField(default=0)
    chunks_done = models.PositiveIntegerField(default=0)

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


class IngestChunk(models.Model):
    """A byte range of the job's input, processed in one transaction: the resume checkpoint."""

    class Status(models.TextChoices):
        PENDING = "pending", "Pending"
        DONE = "done", "Done"

    job = models.ForeignKey(IngestJob, on_delete=models.CASCADE, related_name="chunks")
    index = models.PositiveIntegerField()
    start_byte = models.BigIntegerField()
    end_byte = models.BigIntegerField()
    first_line = models.PositiveIntegerField()
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.PENDING)
    received = models.PositiveIntegerField(default=0)
    inserted = models.PositiveIntegerField(default=0)
    duplicates = models.PositiveIntegerField(default=0)
    rejected = models.PositiveIntegerField(default=0)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["job", "index"]
        constraints = [
            models.UniqueConstraint(fields=["job", "index"], name="ingest_chunk_unique"),
        ]

    def __str__(self) -> str:
        return f"job {self.job_id} chunk {self.index} ({self.status})"


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
