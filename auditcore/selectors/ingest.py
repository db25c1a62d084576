"""Reads of ingest jobs: lists, one job's figures, its quarantine and what it introduced."""

from dataclasses import dataclass

from django.db.models import QuerySet
from django.utils import timezone

from auditcore.models import IngestJob, ModelVersion, QuarantinedRecord, Surface


def ingest_jobs_recent(*, limit: int = 50) -> QuerySet[IngestJob]:
    return IngestJob.objects.select_related("created_by").order_by("-created_at")[:limit]


@dataclass(frozen=True)
class JobFigures:
    job: IngestJob
    seconds: float | None
    rate: float | None
    new_surfaces: list[str]
    new_models: list[str]


def ingest_job_figures(*, job: IngestJob) -> JobFigures:
    seconds = None
    if job.started_at:
        seconds = ((job.finished_at or timezone.now()) - job.started_at).total_seconds()
    rate = job.received / seconds if seconds and job.received else None
    return JobFigures(
        job=job,
        seconds=seconds,
        rate=rate,
        new_surfaces=list(Surface.objects.filter(first_job=job).values_list("name", flat=True)),
        new_models=list(ModelVersion.objects.filter(first_job=job).values_list("name", flat=True)),
    )


def quarantined_records(*, job: IngestJob) -> QuerySet[QuarantinedRecord]:
    return QuarantinedRecord.objects.filter(job=job).order_by("line")
