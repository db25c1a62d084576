"""The search vectors ingest leaves out, filled afterwards (PostgreSQL): in resumable batches,
queued when an ingest job finishes. Migration 0020, which stopped generating them, is tested
in test_migrations."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from auditcore import tasks
from auditcore.services.search_index import interactions_search_index
from tests.support.ingest_upload import upload
from tests.support.traffic import stored_interaction

pytestmark = pytest.mark.django_db
postgresql_only = pytest.mark.skipif(
    connection.vendor != "postgresql", reason="the search column is PostgreSQL's"
)


def _vectors() -> dict[str, str | None]:
    with connection.cursor() as cursor:
        cursor.execute("SELECT prompt, prompt_search::text FROM auditcore_interaction")
        return dict(cursor.fetchall())


def _computed(prompt: str) -> str:
    with connection.cursor() as cursor:
        cursor.execute("SELECT to_tsvector('simple', %s)::text", [prompt])
        return cursor.fetchone()[0]


@postgresql_only
def test_rows_are_filled_in_batches_and_a_rerun_resumes_where_the_last_stopped():
    prompts = [f"Is this text {i} a phishing scam?" for i in range(5)]
    for prompt in prompts:
        stored_interaction(prompt)
    # As if an interrupted run had committed the batch holding the third row.
    with connection.cursor() as cursor:
        cursor.execute(
            "UPDATE auditcore_interaction SET prompt_search = 'kept'::tsvector WHERE prompt = %s",
            [prompts[2]],
        )
    assert list(_vectors().values()).count(None) == 4
    with CaptureQueriesContext(connection) as queries:
        assert interactions_search_index(batch=2) == 4
    fills = [q for q in queries.captured_queries if "to_tsvector" in q["sql"]]
    assert len(fills) == 2  # two batches of two, each its own statement and transaction
    vectors = _vectors()
    assert vectors[prompts[2]] == "'kept'"
    assert all(vectors[p] == _computed(p) for p in prompts if p != prompts[2])
    assert interactions_search_index(batch=2) == 0


def test_the_job_that_finishes_an_upload_queues_the_indexing_once(
    client, safety_lead, settings, monkeypatch
):
    settings.INGEST_CHUNK_RECORDS = 1
    runs = []

    def index():
        runs.append(interactions_search_index())
        return runs[-1]

    monkeypatch.setattr(tasks, "interactions_search_index", index)
    client.force_login(safety_lead)
    upload(client)  # its chunks run eagerly on commit; the last one queues the indexing
    assert len(runs) == 1
    if connection.vendor == "postgresql":
        assert runs == [2]
        assert None not in _vectors().values()
    else:
        assert runs == [0]


def test_beat_sweeps_the_rows_left_unindexed_every_five_minutes(settings):
    from reviewapp.celery import app

    entry = settings.CELERY_BEAT_SCHEDULE["interactions-search-index"]
    assert entry["task"] == tasks.interactions_search_index_task.name
    assert entry["task"] in app.tasks
    assert entry["schedule"].minute == set(range(0, 60, 5))
    stored_interaction("Pushed over the API, which queues no indexing")
    swept = app.tasks[entry["task"]].apply().get()
    assert swept == (1 if connection.vendor == "postgresql" else 0)
    if connection.vendor == "postgresql":
        assert None not in _vectors().values()
