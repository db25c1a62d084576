"""Ingest jobs end to end through the services: chunks, quarantine, idempotency, stratum counts."""

import dataclasses
import gzip
import io
import json
import threading
import time
from datetime import UTC, date, datetime
from pathlib import Path

import pytest
from django.core.management import call_command
from django.db import IntegrityError, connection, transaction
from django.db.models import Sum

from auditcore.consistency import prompt_digest
from auditcore.detection.category import CategoryClassifier
from auditcore.detection.default_policy import default_category_specs
from auditcore.exceptions import ApplicationError
from auditcore.ingest import writer
from auditcore.ingest.pipeline import Preparer
from auditcore.models import (
    IngestChunk,
    IngestJob,
    Interaction,
    ModelVersion,
    QuarantinedRecord,
    StratumCount,
    Surface,
)
from auditcore.services.ingest import (
    ingest_chunk_process,
    ingest_job_create,
    ingest_job_plan,
    ingest_job_run_inline,
    ingest_records_push,
)
from tests.conftest import require_services
from tests.paths import FIXTURES

pytestmark = pytest.mark.django_db


def record(i: int, **overrides) -> dict:
    base = {
        "id": f"r{i:05d}",
        "timestamp": f"2026-11-{20 + i % 3:02d}T12:00:00Z",
        "surface": "support-chat",
        "model": "acme-chat-2026-10",
        "prompt": f"How do I kill process {i} that hangs on my Linux server?",
        "response": "Run `kill -9 <pid>` after finding the pid with `ps aux | grep name`.",
        "user": {"id": f"u{i % 7}", "segment": "developer", "weight": 1 + i % 3},
    }
    base.update(overrides)
    return base


def write_jsonl(path, records, lines_before=()):
    with open(path, "w", encoding="utf-8") as handle:
        for line in lines_before:
            handle.write(line + "\n")
        for r in records:
            handle.write(json.dumps(r) + "\n")
    return path


def queued(path, source="prod", fmt="auto") -> IngestJob:
    return ingest_job_create(path=path, source=source, fmt=fmt, origin=IngestJob.Origin.COMMAND)


def run(path, source="prod", fmt="auto") -> IngestJob:
    return ingest_job_run_inline(job_id=queued(path, source, fmt).pk)


def test_a_file_is_cut_into_chunks_and_every_record_inserted(tmp_path, settings):
    settings.INGEST_CHUNK_RECORDS = 4
    job = run(write_jsonl(tmp_path / "a.jsonl", [record(i) for i in range(10)]))
    assert job.status == IngestJob.Status.SUCCEEDED
    assert (job.received, job.inserted, job.duplicates, job.rejected) == (10, 10, 0, 0)
    assert job.chunk_count == 3
    assert IngestChunk.objects.filter(job=job, status="done").count() == 3
    assert Interaction.objects.filter(source="prod").count() == 10
    assert job.progress == 1.0


def test_reingesting_the_same_file_inserts_nothing(tmp_path):
    path = write_jsonl(tmp_path / "a.jsonl", [record(i) for i in range(6)])
    run(path)
    again = run(path)
    assert (again.received, again.inserted, again.duplicates) == (6, 0, 6)
    assert Interaction.objects.count() == 6


def test_duplicates_inside_one_file_are_counted_once(tmp_path):
    job = run(write_jsonl(tmp_path / "a.jsonl", [record(1), record(2), record(1)]))
    assert (job.received, job.inserted, job.duplicates) == (3, 2, 1)


def test_a_file_overlapping_an_earlier_one_adds_only_its_new_records(tmp_path):
    run(write_jsonl(tmp_path / "a.jsonl", [record(i) for i in range(1, 6)]))
    job = run(write_jsonl(tmp_path / "b.jsonl", [record(i) for i in range(3, 9)]))
    assert (job.received, job.inserted, job.duplicates) == (6, 3, 3)
    assert Interaction.objects.count() == 8
    assert StratumCount.objects.aggregate(n=Sum("count"))["n"] == 8
    stored = dict(Interaction.objects.values_list("external_id", "ingest_job_id"))
    assert [stored[f"r{i:05d}"] == job.pk for i in range(1, 9)] == [False] * 5 + [True] * 3


def test_the_same_ids_from_another_source_are_new_records(tmp_path):
    path = write_jsonl(tmp_path / "a.jsonl", [record(i) for i in range(3)])
    run(path, source="prod")
    job = run(path, source="staging")
    assert job.inserted == 3
    assert Interaction.objects.count() == 6


def test_bad_records_are_quarantined_with_line_and_reason_while_neighbours_go_in(tmp_path):
    path = write_jsonl(
        tmp_path / "mixed.jsonl",
        [
            record(1),
            record(2, timestamp="2026-11-20T12:00:00"),  # no timezone
            record(3),
        ],
        lines_before=['{"id": "broken", "timestamp"'],
    )
    job = run(path)
    assert (job.received, job.inserted, job.rejected) == (4, 2, 2)
    quarantined = {q.line: q for q in QuarantinedRecord.objects.filter(job=job)}
    assert set(quarantined) == {1, 3}
    assert quarantined[3].field == "timestamp"
    assert "timezone" in quarantined[3].reason
    assert "broken" in quarantined[1].excerpt


def test_line_numbers_stay_true_across_chunks(tmp_path, settings):
    settings.INGEST_CHUNK_RECORDS = 2
    records = [record(i) for i in range(5)]
    records.append(record(99, surface=""))
    job = run(write_jsonl(tmp_path / "a.jsonl", records))
    bad = QuarantinedRecord.objects.get(job=job)
    assert bad.line == 6
    assert bad.field == "surface"


@pytest.mark.parametrize("block", [1, 7, 64, 4 * 1024 * 1024])
@pytest.mark.parametrize("trailing_newline", [True, False])
def test_chunks_split_on_record_boundaries_whatever_the_read_block(
    tmp_path, settings, monkeypatch, block, trailing_newline
):
    monkeypatch.setattr("auditcore.services.ingest._PLAN_BLOCK", block)
    settings.INGEST_CHUNK_RECORDS = 3
    records = [record(i) for i in range(7)]
    records[4] = record(4, surface="")  # line 5: the quarantine names the file's own line
    path = write_jsonl(tmp_path / "a.jsonl", records)
    if not trailing_newline:
        path.write_bytes(path.read_bytes().rstrip(b"\n"))
    job = run(path)
    spans = list(job.chunks.order_by("index").values_list("start_byte", "end_byte", "first_line"))
    lines = path.read_bytes().splitlines(keepends=True)
    ends = [sum(map(len, lines[:n])) for n in (3, 6, 7)]
    assert spans == [(0, ends[0], 1), (ends[0], ends[1], 4), (ends[1], ends[2], 7)]
    assert (job.received, job.inserted, job.rejected) == (7, 6, 1)
    assert QuarantinedRecord.objects.get(job=job).line == 5


def test_the_shipped_sample_files_of_every_format_ingest(tmp_path):
    for name, fmt in [
        ("sample.jsonl", "auto"),
        ("sample.csv", "auto"),
        ("sample_openai.jsonl", "auto"),
        ("sample.jsonl.gz", "auto"),
        ("sample.csv", "csv"),
    ]:
        job = run(FIXTURES / "logs" / name, source=f"{name}-{fmt}", fmt=fmt)
        assert job.status == IngestJob.Status.SUCCEEDED, (name, job.error)
        assert job.inserted > 0, name
        assert job.received == job.inserted + job.duplicates + job.rejected, name


def test_a_gzipped_file_is_read_transparently_and_its_copy_removed(tmp_path):
    path = tmp_path / "a.log"
    with gzip.open(path, "wt", encoding="utf-8") as handle:
        for i in range(5):
            handle.write(json.dumps(record(i)) + "\n")
    job = run(path)
    assert job.inserted == 5
    assert job.detected_format == "jsonl"
    assert job.work_path != job.file_path
    assert not Path(job.work_path).exists()


def test_an_unreadable_file_fails_the_job_with_a_reason(tmp_path):
    path = tmp_path / "bad.gz"
    path.write_bytes(b"\x1f\x8bnot really gzip")
    job = run(path)
    assert job.status == IngestJob.Status.FAILED
    assert "cannot read the input" in job.error


def test_a_csv_with_a_quoted_field_spanning_lines_keeps_records_whole(tmp_path, settings):
    settings.INGEST_CHUNK_RECORDS = 1
    path = tmp_path / "multi.csv"
    path.write_text(
        "id,timestamp,surface,model,prompt,response\n"
        'c1,2026-11-20T12:00:00Z,web,m1,"first line\nsecond line",ok\n'
        "c2,2026-11-20T12:00:00Z,web,m1,plain,fine\n",
        encoding="utf-8",
    )
    job = run(path)
    assert (job.inserted, job.rejected) == (2, 0)
    assert Interaction.objects.get(external_id="c1").prompt == "first line\nsecond line"


def test_pii_is_redacted_and_user_ids_are_hashed(tmp_path):
    job = run(
        write_jsonl(
            tmp_path / "a.jsonl",
            [record(1, prompt="Email me at jane.doe@example.com please", user={"id": "u_secret"})],
        )
    )
    row = Interaction.objects.get(ingest_job=job)
    assert "jane.doe@example.com" not in row.prompt
    assert "[EMAIL]" in row.prompt
    assert row.redaction_count == 1
    assert row.user_ref and "u_secret" not in row.user_ref


def test_a_source_field_named_like_the_redaction_counts_neither_fails_nor_counts(tmp_path):
    job = run(
        write_jsonl(
            tmp_path / "a.jsonl",
            [
                record(1, metadata={"pii_redacted": "by our gateway"}),
                record(2, metadata={"pii_redacted": {"EMAIL": 7}}),
                record(3, pii_redacted="n/a", prompt="Write to jane.doe@example.com"),
            ],
        )
    )
    assert (job.status, job.inserted, job.rejected) == ("succeeded", 3, 0)
    rows = {r.external_id: r for r in Interaction.objects.filter(ingest_job=job)}
    assert [rows[f"r{i:05d}"].redaction_count for i in (1, 2, 3)] == [0, 0, 1]
    assert rows["r00001"].metadata == {"pii_redacted": "by our gateway"}  # kept as sent
    assert rows["r00003"].metadata["pii_redacted"] == {"EMAIL": 1}  # what redaction found


def test_each_row_stores_the_digest_of_its_redacted_prompt(tmp_path):
    job = run(
        write_jsonl(
            tmp_path / "a.jsonl",
            [
                record(1, prompt="Email me at jane.doe@example.com, please!"),
                record(2, prompt="email me at  JOHN@example.org please"),
                record(3, prompt="Email me tomorrow, please"),
            ],
        )
    )
    rows = {r.external_id: r for r in Interaction.objects.filter(ingest_job=job)}
    digests = {key: bytes(row.prompt_digest) for key, row in rows.items()}
    assert all(digests[key] == prompt_digest(rows[key].prompt) for key in rows)
    # Different addresses redact to the same text: the same prompt for the consistency report.
    assert digests["r00001"] == digests["r00002"] != digests["r00003"]


def test_every_stored_field_reads_back_as_written(tmp_path):
    # On PostgreSQL this goes through the binary COPY: JSON, NULLs, dates and non-ASCII text.
    messages = [
        {"role": "user", "content": "Bonjour, j'ai une question"},
        {"role": "assistant", "content": "Oui ? 🙂"},
        {"role": "user", "content": "Comment tuer un processus zombie ?"},
    ]
    metadata = {"locale": "fr-FR", "nested": {"list": [1, 2.5, None, True], "ünï": "ç\u2028"}}
    job = run(
        write_jsonl(
            tmp_path / "a.jsonl",
            [
                record(
                    1,
                    timestamp="2026-11-21T23:30:00-02:00",
                    prompt=None,
                    messages=messages,
                    response="Utilisez kill -9\u0000 sur le parent.",
                    user={"id": "u1", "segment": "pro", "weight": 2.5},
                    conversation_id="conv-7",
                    metadata=metadata,
                    session_importance=3.5,
                ),
                record(2, gateway_action="modified", served_response="Edited answer."),
            ],
        )
    )
    assert (job.inserted, job.rejected) == (2, 0)
    first = Interaction.objects.select_related("surface", "model_version").get(external_id="r00001")
    assert first.occurred_at == datetime(2026, 11, 22, 1, 30, tzinfo=UTC)
    assert first.day == date(2026, 11, 22)
    assert (first.surface.name, first.model_version.name) == ("support-chat", "acme-chat-2026-10")
    assert first.prompt == "Comment tuer un processus zombie ?"
    assert first.earlier_turns == messages[:2]
    assert first.turn == 2
    assert first.conversation_id == "conv-7"
    assert first.response == "Utilisez kill -9\ufffd sur le parent."
    assert first.served_response is None
    assert first.gateway_action == "none"
    assert (first.user_segment, first.impact_weight) == ("pro", 2.5)
    assert first.session_importance == 3.5  # stored, not only validated
    assert "session_importance" not in first.metadata
    assert first.metadata["nested"] == metadata["nested"]
    assert first.metadata["locale"] == "fr-FR"
    assert first.metadata["_nul_replaced"] == {"response": 1}
    assert first.ingest_job_id == job.pk
    assert first.stratum_key.startswith("2026-11-22|")
    second = Interaction.objects.get(external_id="r00002")
    assert second.session_importance == 1.0  # the default when the record has none
    assert (second.gateway_action, second.served_response) == ("modified", "Edited answer.")
    assert second.earlier_turns == []
    assert second.metadata == {}


def test_classification_and_sampling_fields_are_filled(tmp_path):
    job = run(
        write_jsonl(
            tmp_path / "a.jsonl",
            [
                record(1, response="I'm sorry, but I can't help with that request."),
                record(
                    2,
                    gateway_action="blocked",
                    served_response="This request was blocked by our safety filter.",
                ),
            ],
        )
    )
    refused, blocked = Interaction.objects.filter(ingest_job=job).order_by("external_id")
    assert refused.response_label == "refusal"
    assert blocked.response_label == "compliance"
    assert blocked.served_label == "refusal"
    for row in (refused, blocked):
        assert 0 < row.u <= 1
        assert row.priority_key == pytest.approx(row.u / row.impact_weight)
        assert row.stratum_key.startswith(f"{row.day.isoformat()}|{row.category}|")
        assert row.detector_version


def test_stratum_counts_match_the_inserted_rows_and_ignore_duplicates(tmp_path):
    path = write_jsonl(tmp_path / "a.jsonl", [record(i) for i in range(9)])
    run(path)
    run(path)
    assert StratumCount.objects.aggregate(n=Sum("count"))["n"] == 9
    for count in StratumCount.objects.all():
        rows = Interaction.objects.filter(
            day=count.day,
            surface=count.surface,
            model_version=count.model_version,
            category=count.category,
            response_label=count.outcome,
        )
        assert rows.count() == count.count
        assert sum(r.impact_weight for r in rows) == pytest.approx(count.impact_sum)
        assert sum(r.impact_weight**2 for r in rows) == pytest.approx(count.impact_sq_sum)


def test_new_surfaces_and_models_are_created_and_remember_their_job(tmp_path):
    job = run(write_jsonl(tmp_path / "a.jsonl", [record(1, surface="kiosk", model="m-new")]))
    assert Surface.objects.get(name="kiosk").first_job == job
    assert ModelVersion.objects.get(name="m-new").first_job == job


def test_a_chunk_processed_twice_writes_its_rows_once(tmp_path, settings):
    settings.INGEST_CHUNK_RECORDS = 3
    job = queued(write_jsonl(tmp_path / "a.jsonl", [record(i) for i in range(6)]))
    chunk_ids = ingest_job_plan(job_id=job.pk).pending
    ingest_chunk_process(chunk_id=chunk_ids[0])
    ingest_chunk_process(chunk_id=chunk_ids[0])  # a redelivered message
    assert ingest_job_plan(job_id=job.pk).pending == chunk_ids[1:]  # a rerun: what is left
    ingest_chunk_process(chunk_id=chunk_ids[1])
    job.refresh_from_db()
    assert (job.status, job.received, job.inserted) == ("succeeded", 6, 6)
    assert Interaction.objects.count() == 6


def test_the_first_chunk_is_handed_over_before_the_rest_of_the_file_is_cut(tmp_path, settings):
    settings.INGEST_CHUNK_RECORDS = 2
    job = queued(write_jsonl(tmp_path / "a.jsonl", [record(i) for i in range(21)]))
    handed_over: list[list[int]] = []

    def dispatch(chunk_ids):
        handed_over.append(chunk_ids)
        if len(handed_over) == 1:
            # The first chunk alone, recorded and processable while the plan goes on cutting.
            assert IngestChunk.objects.filter(job=job).count() == 1
            assert IngestJob.objects.get(pk=job.pk).chunk_count == 0
            assert ingest_chunk_process(chunk_id=chunk_ids[0]) is False  # not the last one

    plan = ingest_job_plan(job_id=job.pk, dispatch=dispatch)
    pending = plan.pending
    assert not plan.finished
    chunks = list(job.chunks.order_by("index").values_list("pk", flat=True))
    assert [len(batch) for batch in handed_over] == [1, 8, 2]
    assert [chunk_id for batch in handed_over for chunk_id in batch] == chunks
    assert pending == chunks[1:]  # the first is already done
    for chunk_id in pending:
        ingest_chunk_process(chunk_id=chunk_id)
    job.refresh_from_db()
    assert (job.status, job.chunk_count, job.inserted) == ("succeeded", 11, 21)


def test_a_plan_whose_chunks_all_ran_while_it_cut_ends_the_job_itself(tmp_path, settings):
    settings.INGEST_CHUNK_RECORDS = 2
    job = queued(write_jsonl(tmp_path / "a.jsonl", [record(i) for i in range(5)]))

    def run_at_once(chunk_ids):
        for chunk_id in chunk_ids:
            assert ingest_chunk_process(chunk_id=chunk_id) is False  # the count is not known yet

    plan = ingest_job_plan(job_id=job.pk, dispatch=run_at_once)
    assert plan.finished
    assert plan.pending == []
    job.refresh_from_db()
    assert (job.status, job.chunk_count, job.inserted) == ("succeeded", 3, 5)


def test_a_plan_interrupted_while_cutting_is_completed_by_its_rerun(tmp_path, settings):
    settings.INGEST_CHUNK_RECORDS = 2
    job = queued(write_jsonl(tmp_path / "a.jsonl", [record(i) for i in range(21)]))

    def lost_worker(chunk_ids):
        if IngestChunk.objects.filter(job=job).count() > 1:
            raise KeyboardInterrupt  # the process stops with part of the file cut

    with pytest.raises(KeyboardInterrupt):
        ingest_job_plan(job_id=job.pk, dispatch=lost_worker)
    assert IngestChunk.objects.filter(job=job).count() == 9
    handed_over: list[int] = []
    pending = ingest_job_plan(job_id=job.pk, dispatch=handed_over.extend).pending  # redelivered
    assert handed_over == pending
    assert len(pending) == 11
    for chunk_id in pending:
        ingest_chunk_process(chunk_id=chunk_id)
    job.refresh_from_db()
    assert (job.status, job.inserted, job.received) == ("succeeded", 21, 21)


def test_an_unknown_format_is_refused_naming_the_field(tmp_path):
    with pytest.raises(ApplicationError) as exc:
        ingest_job_create(
            path=write_jsonl(tmp_path / "a.jsonl", []), source="p", fmt="xml", origin="command"
        )
    assert exc.value.extra["field"] == "format"


def test_a_pushed_batch_reports_per_record_errors_and_keeps_the_good_ones():
    result = ingest_records_push(
        records=[record(1), record(2, response=None), "nonsense", record(1)], source="api"
    )
    job = result.job
    assert (job.received, job.inserted, job.duplicates, job.rejected) == (4, 1, 1, 2)
    assert [(e.index, e.field) for e in result.errors] == [(1, "response"), (2, "")]


@pytest.mark.django_db(transaction=True)
def test_ids_a_concurrent_writer_commits_first_count_as_duplicates():
    """The writer COPYs a batch straight in, expecting new ids. If another transaction holds
    one of them, the COPY waits for it; once that commits, the batch goes in through
    ON CONFLICT DO NOTHING instead: nothing is lost, nothing is stored twice."""
    require_services()
    # Names both writers share exist beforehand, so the only row they contend for is r00002.
    Surface.objects.create(name="support-chat")
    ModelVersion.objects.create(name="acme-chat-2026-10")
    holding, release = threading.Event(), threading.Event()
    results: dict[str, object] = {}

    def other_writer() -> None:
        try:
            with transaction.atomic():
                results["other"] = ingest_records_push(records=[record(2)], source="race")
                holding.set()
                release.wait(30)
        finally:
            connection.close()

    def this_writer() -> None:
        try:
            results["push"] = ingest_records_push(
                records=[record(1), record(2), record(3)], source="race"
            )
        except Exception as exc:  # reported by the assertions below
            results["error"] = exc
        finally:
            connection.close()

    other = threading.Thread(target=other_writer)
    other.start()
    assert holding.wait(30)
    this = threading.Thread(target=this_writer)
    this.start()
    # This writer's COPY now waits on the other's uncommitted r00002.
    assert _waits_on_a_lock(), "the second writer never waited for the first"
    release.set()
    other.join(30)
    this.join(30)
    assert "error" not in results, results.get("error")
    job = results["push"].job
    assert (job.received, job.inserted, job.duplicates, job.rejected) == (3, 2, 1, 0)
    stored = Interaction.objects.filter(source="race").order_by("external_id")
    assert list(stored.values_list("external_id", "ingest_job_id")) == [
        ("r00001", job.pk),
        ("r00002", results["other"].job.pk),
        ("r00003", job.pk),
    ]
    assert StratumCount.objects.aggregate(n=Sum("count"))["n"] == 3


def _waits_on_a_lock(timeout: float = 20) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT count(*) FROM pg_stat_activity "
                "WHERE datname = current_database() AND wait_event_type = 'Lock'"
            )
            if cursor.fetchone()[0]:
                return True
        time.sleep(0.05)
    return False


def test_a_copy_error_other_than_a_known_id_reaches_the_caller_as_a_django_error():
    """COPY runs on the raw psycopg cursor; its errors must still arrive as Django's, so the
    chunk task's retry on OperationalError and callers' IntegrityError handling see them, and
    only the idempotency key sends a batch down the ON CONFLICT path."""
    require_services()
    job = ingest_records_push(records=[record(1)], source="copy-errors").job
    stored = Interaction.objects.get(source="copy-errors")
    prepared = Preparer(
        source="copy-errors",
        categories=CategoryClassifier(tuple(default_category_specs())),
        user_key=b"key",
        sampling_salt="salt",
    ).prepare(record(2), line=1)
    broken = dataclasses.replace(prepared, prompt=None)  # NOT NULL
    with pytest.raises(IntegrityError) as raised, transaction.atomic():
        writer.write_rows(
            rows=[broken],
            source="copy-errors",
            job_id=job.pk,
            surface_ids={broken.surface: stored.surface_id},
            model_ids={broken.model: stored.model_version_id},
            now=stored.created_at,
        )
    assert raised.value.__cause__.diag.column_name == "prompt"
    assert Interaction.objects.filter(source="copy-errors").count() == 1
    assert job.inserted == 1


@pytest.mark.django_db(transaction=True)
def test_the_ingest_command_waits_for_the_job_and_prints_its_summary(tmp_path, settings):
    settings.INGEST_CHUNK_RECORDS = 4
    path = write_jsonl(tmp_path / "a.jsonl", [record(i) for i in range(10)] + [{"id": "bad"}])
    out, err = io.StringIO(), io.StringIO()
    call_command("ingest", str(path), "--source", "cmd", "--wait", stdout=out, stderr=err)
    summary = json.loads(out.getvalue().splitlines()[-1])
    assert summary["status"] == "succeeded"
    assert (summary["received"], summary["inserted"], summary["rejected"]) == (11, 10, 1)
    assert Interaction.objects.filter(source="cmd").count() == 10
    assert "100.0%" in err.getvalue()
