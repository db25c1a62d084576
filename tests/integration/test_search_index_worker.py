"""Search indexing on a real worker: queued by the chunk that finishes an ingest job, and
resumed from the rows still NULL when a worker is killed in the middle of it."""

import time

import pytest
from django.db import connection

from auditcore.models import IngestJob
from auditcore.services.ingest import ingest_job_create
from auditcore.tasks import ingest_job_enqueue, search_index_enqueue
from tests.conftest import WorkerProcess, require_services, wait_until
from tests.integration.test_recategorise_worker import ROWS, _load_traffic, broker_mode  # noqa: F401
from tests.integration.test_worker_faults import ENV, RESTART_AFTER
from tests.paths import FIXTURES

pytestmark = pytest.mark.services


def _unindexed() -> int:
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM auditcore_interaction WHERE prompt_search IS NULL")
        return cursor.fetchone()[0]


def _wrong_vectors() -> int:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(*) FROM auditcore_interaction "
            "WHERE prompt_search IS DISTINCT FROM to_tsvector('simple', coalesce(prompt, ''))"
        )
        return cursor.fetchone()[0]


def test_an_ingest_job_finished_on_a_worker_has_its_prompts_indexed(celery_worker_process):
    require_services()
    job = ingest_job_create(
        path=str(FIXTURES / "logs" / "sample_with_errors.jsonl"),
        source="web",
        origin=IngestJob.Origin.COMMAND,
    )
    ingest_job_enqueue(job.pk)  # outside a transaction: sent at once

    def indexed() -> bool:
        job.refresh_from_db()
        return job.status == IngestJob.Status.SUCCEEDED and _unindexed() == 0

    assert wait_until(indexed, timeout=60), celery_worker_process.log_path.read_text()[-3000:]
    assert job.inserted == 2
    assert _wrong_vectors() == 0


def test_a_worker_killed_mid_indexing_leaves_the_rest_to_the_redelivered_task(
    transactional_db,
    broker_mode,  # noqa: F811
):
    require_services()
    _load_traffic()  # written as ingest writes: no search vectors
    assert _unindexed() == ROWS
    first = WorkerProcess(env=ENV)
    second = WorkerProcess(env=ENV)
    try:
        first.start()
        search_index_enqueue()  # outside a transaction: sent at once
        assert wait_until(lambda: _unindexed() < ROWS, timeout=90, interval=0.02)
        first.kill()
        assert 0 < _unindexed() < ROWS, "killed too late to prove anything"
        time.sleep(RESTART_AFTER)
        second.start()
        assert wait_until(lambda: _unindexed() == 0, timeout=180), second.log_path.read_text()[
            -3000:
        ]
    finally:
        first.kill()
        second.stop()
    assert _wrong_vectors() == 0
    with connection.cursor() as cursor:  # and the planner was told the column is filled
        cursor.execute(
            "SELECT null_frac FROM pg_stats "
            "WHERE tablename = 'auditcore_interaction' AND attname = 'prompt_search'"
        )
        assert cursor.fetchone() == (0.0,)
