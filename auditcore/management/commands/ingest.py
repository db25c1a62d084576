"""Ingest a log file: ingest PATH [--source NAME] [--format …] [--wait]."""

import json
import sys
import time
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError, CommandParser

from auditcore import tasks
from auditcore.exceptions import ApplicationError
from auditcore.ingest.parsers import FORMATS
from auditcore.models import IngestJob
from auditcore.services.ingest import ingest_job_create, ingest_job_run_inline

# How long --wait lets a job sit queued before it says that no worker seems to be running.
_NO_WORKER_HINT_AFTER = 15.0
_POLL_SECONDS = 0.1


def _bar(job: IngestJob, started: float) -> str:
    share = job.progress
    elapsed = max(time.monotonic() - started, 1e-6)
    rate = job.received / elapsed
    eta = f"{elapsed * (1 - share) / share:5.0f}s" if 0 < share < 1 else "    -"
    filled = int(share * 30)
    return (
        f"\r[{'#' * filled}{'.' * (30 - filled)}] {share:6.1%}  {job.received:>10,} records"
        f"  {rate:>9,.0f} rec/s  ETA {eta}"
    )


class Command(BaseCommand):
    help = "Enqueue an ingest job for a JSONL, CSV or OpenAI log file (.gz read transparently)."
    # The system checks import every URL pattern and view before the job is even recorded, most of
    # the command's start (bench/README.md); `check`, `runserver` and `migrate` run them.
    requires_system_checks: list[str] = []

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("path", type=Path)
        parser.add_argument("--source", default="default", help="idempotency namespace of the ids")
        parser.add_argument("--format", dest="fmt", default="auto", choices=FORMATS)
        parser.add_argument("--wait", action="store_true", help="show progress until the job ends")
        parser.add_argument(
            "--inline", action="store_true", help="process in this process, without a worker"
        )

    def handle(self, *args, path: Path, source: str, fmt: str, wait: bool, inline: bool, **opts):
        try:
            job = ingest_job_create(
                path=path, source=source, fmt=fmt, origin=IngestJob.Origin.COMMAND
            )
        except ApplicationError as exc:
            raise CommandError(exc.message) from exc
        if inline:
            job = ingest_job_run_inline(job_id=job.pk)
        else:
            tasks.ingest_job_enqueue(job.pk)
            self.stderr.write(f"ingest job {job.pk} queued")
            if not wait:
                self.stdout.write(str(job.pk))
                return
            job = self._wait(job.pk)
        self.stdout.write(
            json.dumps(
                {
                    "job": job.pk,
                    "status": job.status,
                    "received": job.received,
                    "inserted": job.inserted,
                    "duplicates": job.duplicates,
                    "rejected": job.rejected,
                }
            )
        )
        if job.status == IngestJob.Status.FAILED:
            self.stderr.write(f"ingest job {job.pk} failed: {job.error}")
            sys.exit(1)

    def _wait(self, job_id: int) -> IngestJob:
        started = time.monotonic()
        hinted = False
        while True:
            job = IngestJob.objects.get(pk=job_id)
            self.stderr.write(_bar(job, started), ending="")
            self.stderr.flush()
            if job.is_finished:
                self.stderr.write("")
                return job
            waited = time.monotonic() - started
            if (
                job.status == IngestJob.Status.QUEUED
                and waited > _NO_WORKER_HINT_AFTER
                and not hinted
            ):
                self.stderr.write(
                    "\nno worker has picked the job up yet; is one running? "
                    "(`make run` starts one; --inline processes without a worker)"
                )
                hinted = True
            # A tenth of a second between one-row reads: the summary follows the last chunk
            # closely, at a cost PostgreSQL does not notice.
            time.sleep(_POLL_SECONDS)
