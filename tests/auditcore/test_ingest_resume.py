"""A worker killed with SIGKILL mid-ingest: after a restart the job ends exactly right."""

import json
import time

import pytest
from django.db.models import Sum

from auditcore import tasks
from auditcore.models import IngestJob, Interaction, QuarantinedRecord, StratumCount
from auditcore.services.ingest import ingest_job_create
from tests.conftest import WorkerProcess, require_services, wait_until

pytestmark = pytest.mark.services

RECORDS = 12_000
BAD_EVERY = 1_000
CHUNK = 300


def _write_log(path) -> int:
    bad = 0
    with open(path, "w", encoding="utf-8") as handle:
        for i in range(RECORDS):
            if i % BAD_EVERY == 0:
                handle.write(f'{{"id": "broken-{i}", "timestamp": \n')
                bad += 1
            record = {
                "id": f"k{i:06d}",
                "timestamp": f"2026-11-{1 + i % 20:02d}T10:00:00Z",
                "surface": ["support-chat", "mobile-app"][i % 2],
                "model": "acme-chat-2026-10",
                "prompt": f"How do I kill process {i} that hangs?",
                "response": "Use `kill -TERM <pid>`, then `kill -9` if it ignores the signal.",
                "user": {"id": f"u{i % 50}", "segment": "developer", "weight": 1 + i % 4},
            }
            handle.write(json.dumps(record) + "\n")
    return bad


def test_a_killed_worker_is_redelivered_and_the_job_finishes_exactly(transactional_db, tmp_path):
    require_services()
    from celery import current_app

    bad = _write_log(tmp_path / "big.jsonl")
    env = {"CELERY_VISIBILITY_TIMEOUT": "3", "INGEST_CHUNK_RECORDS": str(CHUNK)}
    current_app.conf.task_always_eager = False
    first = WorkerProcess(concurrency=2, env=env)
    second = WorkerProcess(concurrency=2, env=env)
    try:
        first.start()
        job = ingest_job_create(
            path=tmp_path / "big.jsonl", source="resume", origin=IngestJob.Origin.COMMAND
        )
        tasks.ingest_job_run.delay(job.pk)

        def some_chunks_done() -> bool:
            job.refresh_from_db()
            # Chunks run while the plan still cuts the file; its chunk count comes at the end.
            return job.chunks_done >= 3 and job.chunk_count > 0

        assert wait_until(some_chunks_done, timeout=90), first.log_path.read_text()[-3000:]
        first.kill()
        job.refresh_from_db()
        assert job.status == IngestJob.Status.RUNNING
        assert job.chunks_done < job.chunk_count, "killed too late to prove anything"

        # Redis hands back a killed worker's task only once it is older than the visibility
        # timeout when the next worker starts; otherwise the next sweep is ~100 s later.
        time.sleep(float(env["CELERY_VISIBILITY_TIMEOUT"]) + 0.5)
        second.start()

        def finished() -> bool:
            job.refresh_from_db()
            return job.is_finished

        assert wait_until(finished, timeout=180), (
            f"job stuck at {job.chunks_done}/{job.chunk_count}"
        )
    finally:
        first.kill()
        second.stop()
        current_app.conf.task_always_eager = True

    assert job.status == IngestJob.Status.SUCCEEDED
    assert (job.received, job.inserted, job.duplicates, job.rejected) == (
        RECORDS + bad, RECORDS, 0, bad,
    )  # fmt: skip
    assert Interaction.objects.filter(source="resume").count() == RECORDS
    assert QuarantinedRecord.objects.filter(job=job).count() == bad
    assert StratumCount.objects.aggregate(n=Sum("count"))["n"] == RECORDS
