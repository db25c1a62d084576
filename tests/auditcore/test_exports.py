"""Exports of adjudicated labels: every format read back and checked against the database."""

import csv
import datetime as dt
import json

import pyarrow.parquet as pq
import pytest
from celery.exceptions import Retry
from django.core.management import call_command
from django.core.management.base import CommandError
from django.utils import timezone

from auditcore import tasks
from auditcore.exceptions import ApplicationError
from auditcore.models import AuditEvent, ExportJob, RoundItem
from auditcore.selectors.exports import reviewer_pseudonym
from auditcore.services import exports as exports_service
from auditcore.services import review as svc
from auditcore.services.exports import (
    export_job_create,
    export_job_file,
    export_job_run,
    export_jobs_expire,
    export_labels_to_path,
    exports_dir,
    lease,
)
from tests.support.review_round import MARKER, items_of, make_round, offered_verdict

pytestmark = pytest.mark.django_db


@pytest.fixture
def reviewed(reviewer, second_reviewer, safety_lead):
    """Item 0: both say help. Item 1: they disagree, bob adjudicates decline. Item 2: pending."""
    audit_round = make_round(items=3, required_reviews=2)
    items = items_of(audit_round)
    RoundItem.objects.filter(pk=items[1].pk).update(inclusion_probability=0.25, weight=4.0)
    for user, decisions in ((reviewer, ("help", "help")), (second_reviewer, ("help", "decline"))):
        for item, decision in zip(items[:2], decisions, strict=True):
            code = "general_info" if decision == "help" else "personal_dosing"
            offered_verdict(reviewer=user, item_id=item.pk, decision=decision, reason_code=code)
            svc.verdict_observe(reviewer=user, item_id=item.pk, observed_label="refusal")
    svc.adjudication_record(adjudicator=safety_lead, item_id=items[1].pk, decision="decline")
    return audit_round, items


def _by_item(rows):
    return {int(r["item_id"]): r for r in rows}


def _check_rows(rows, items, reviewer, second_reviewer):
    assert set(rows) == {items[0].pk, items[1].pk}
    for item in items[:2]:
        item.refresh_from_db()
        row = rows[item.pk]
        assert float(row["weight"]) == item.weight
        assert float(row["inclusion_probability"]) == item.inclusion_probability
        assert row["final_decision"] == item.final_decision
        assert row["external_id"] == item.interaction.external_id
        assert row["stratum"] == item.stratum.stratum_key
        assert row["policy_version"] == "Central policy v1"
        assert row["response_label"] == "refusal"
    assert float(rows[items[1].pk]["weight"]) == 4.0
    assert rows[items[1].pk]["final_decision"] == "decline"
    assert rows[items[1].pk]["adjudicated_by"] == "bob"
    assert rows[items[0].pk]["adjudicated_by"] in (None, "")


def _verdicts(value):
    return json.loads(value) if isinstance(value, str) else value


def test_csv_jsonl_and_parquet_read_back_match_the_database(
    tmp_path, reviewed, reviewer, second_reviewer
):
    _, items = reviewed
    outputs = {}
    for fmt in ("csv", "jsonl", "parquet"):
        path = tmp_path / f"labels.{fmt}"
        job = export_labels_to_path(actor=None, fmt=fmt, output=str(path), batch_size=1)
        assert job.rows_written == 2
        outputs[fmt] = path
    with outputs["csv"].open(newline="") as f:
        csv_rows = _by_item(csv.DictReader(f))
    jsonl_rows = _by_item(json.loads(line) for line in outputs["jsonl"].read_text().splitlines())
    parquet_rows = _by_item(pq.read_table(outputs["parquet"]).to_pylist())
    for rows in (csv_rows, jsonl_rows, parquet_rows):
        _check_rows(rows, items, reviewer, second_reviewer)
        verdicts = _verdicts(rows[items[1].pk]["verdicts"])
        assert sorted(v["reviewer"] for v in verdicts) == sorted(
            [reviewer_pseudonym(reviewer.pk), reviewer_pseudonym(second_reviewer.pk)]
        )
        assert {v["decision"] for v in verdicts} == {"help", "decline"}
        assert {v["observed_label"] for v in verdicts} == {"refusal"}
        assert {v["reason_code"] for v in verdicts} == {"general_info", "personal_dosing"}
    # Without --include-text nothing of the texts leaves; the classifier's labels do.
    for path in outputs.values():
        assert f"{MARKER}-response" not in path.read_bytes().decode(errors="replace")
    assert "prompt" not in csv_rows[items[0].pk]


def test_parquet_has_typed_columns_and_one_row_group_per_batch(tmp_path, reviewed):
    path = tmp_path / "labels.parquet"
    export_labels_to_path(actor=None, fmt="parquet", output=str(path), batch_size=1)
    parquet = pq.ParquetFile(path)
    assert parquet.metadata.num_row_groups == 2
    schema = parquet.schema_arrow
    assert str(schema.field("weight").type) == "double"
    assert str(schema.field("occurred_at").type) == "timestamp[us, tz=UTC]"


def test_text_is_included_only_when_asked(tmp_path, reviewed):
    _, items = reviewed
    path = tmp_path / "labels.jsonl"
    export_labels_to_path(actor=None, fmt="jsonl", output=str(path), include_text=True)
    rows = _by_item(json.loads(line) for line in path.read_text().splitlines())
    assert rows[items[0].pk]["response"] == f"I can't help with that. {MARKER}-response-0"
    assert rows[items[0].pk]["earlier_turns"][0]["content"] == "Hello there"
    parquet = tmp_path / "labels.parquet"
    export_labels_to_path(actor=None, fmt="parquet", output=str(parquet), include_text=True)
    table = pq.read_table(parquet).to_pylist()
    prompts = {items[0].interaction.prompt, items[1].interaction.prompt}
    assert {r["prompt"] for r in table} == prompts


def test_a_round_filter_keeps_only_that_rounds_rows(tmp_path, reviewed, reviewer):
    audit_round, _ = reviewed
    other = make_round(items=1)
    offered_verdict(reviewer=reviewer, item_id=items_of(other)[0].pk, decision="unsure")
    path = tmp_path / "one.jsonl"
    job = export_labels_to_path(
        actor=None, fmt="jsonl", output=str(path), round_name=audit_round.name
    )
    assert job.rows_written == 2
    with pytest.raises(ApplicationError, match="round"):
        export_labels_to_path(actor=None, fmt="jsonl", output=str(path), round_name="nope")


def test_every_export_is_in_the_audit_log_with_who_what_and_how_many(reviewed, admin_user):
    audit_round, _ = reviewed
    job = export_job_create(actor=admin_user, fmt="csv", round_id=audit_round.pk)
    job = export_job_run(job_id=job.pk)
    event = AuditEvent.objects.get(action="labels.export")
    assert event.actor == admin_user
    assert event.object_id == str(job.pk)
    assert event.after["rows"] == 2
    assert event.after["format"] == "csv"
    assert event.after["round"] == audit_round.name
    assert job.status == "succeeded"
    assert export_job_file(job=job).parent == exports_dir()


def test_a_job_runs_once_even_if_the_task_is_delivered_twice(reviewed, admin_user):
    job = export_job_create(actor=admin_user, fmt="jsonl")
    export_job_run(job_id=job.pk)
    export_job_run(job_id=job.pk)
    assert AuditEvent.objects.filter(action="labels.export").count() == 1


def _stranded(job: ExportJob, *, silent_for: dt.timedelta) -> None:
    """The job as a run left it that renewed its lease `silent_for` ago."""
    ExportJob.objects.filter(pk=job.pk).update(
        status=ExportJob.Status.RUNNING,
        lease_token="earlier-run",
        started_at=timezone.now() - silent_for,
        heartbeat_at=timezone.now() - silent_for,
        rows_written=1,
    )


def test_an_export_whose_worker_died_is_taken_over_and_finishes(reviewed, admin_user):
    job = export_job_create(actor=admin_user, fmt="csv")
    _stranded(job, silent_for=lease() + dt.timedelta(seconds=1))
    leftover = exports_dir() / f"labels-{job.pk}-0123abcd.csv.part"
    leftover.write_text("item_id\n1", encoding="utf-8")

    job = export_job_run(job_id=job.pk)

    assert job.status == ExportJob.Status.SUCCEEDED
    assert job.lease_token not in ("", "earlier-run")
    with open(export_job_file(job=job), newline="", encoding="utf-8") as handle:
        assert len(list(csv.DictReader(handle))) == job.rows_written == 2
    assert not leftover.exists()
    assert AuditEvent.objects.filter(action="labels.export").count() == 1


def test_an_export_another_run_still_holds_is_left_alone(reviewed, admin_user):
    job = export_job_create(actor=admin_user, fmt="csv")
    _stranded(job, silent_for=dt.timedelta(seconds=5))
    files_before = set(exports_dir().iterdir())

    job = export_job_run(job_id=job.pk)

    assert (job.status, job.lease_token, job.rows_written) == (
        ExportJob.Status.RUNNING,
        "earlier-run",
        1,
    )
    assert set(exports_dir().iterdir()) == files_before
    assert not AuditEvent.objects.filter(action="labels.export").exists()


def test_a_run_whose_lease_is_taken_over_stops_and_leaves_the_job_to_the_new_run(
    reviewed, admin_user, monkeypatch
):
    job = export_job_create(actor=admin_user, fmt="jsonl")
    heartbeat = exports_service._progress

    def taken_over_after_the_first_batch(job_id, token):
        beat = heartbeat(job_id, token)

        def update(written):
            beat(written)
            ExportJob.objects.filter(pk=job_id).update(lease_token="newer-run")

        return update

    monkeypatch.setattr(exports_service, "_progress", taken_over_after_the_first_batch)
    files_before = set(exports_dir().iterdir())

    job = export_job_run(job_id=job.pk, batch_size=1)

    # It stopped at its next batch: the count is the one it wrote before the takeover.
    assert (job.status, job.lease_token, job.rows_written) == (
        ExportJob.Status.RUNNING,
        "newer-run",
        1,
    )
    assert set(exports_dir().iterdir()) == files_before  # its partial file is gone
    assert not AuditEvent.objects.filter(action="labels.export").exists()


def test_the_task_comes_back_later_while_another_run_holds_the_export(reviewed, admin_user):
    job = export_job_create(actor=admin_user, fmt="csv")
    _stranded(job, silent_for=dt.timedelta(seconds=5))
    with pytest.raises(Retry) as retry:
        tasks.export_job_run_task.apply(args=[job.pk])
    assert retry.value.when == lease().total_seconds() + 5

    _stranded(job, silent_for=lease() * 2)
    result = tasks.export_job_run_task.apply(args=[job.pk])
    assert (result.state, result.result) == ("SUCCESS", 2)


def test_expired_files_are_deleted_and_the_link_stops_working(reviewed, admin_user):
    job = export_job_create(actor=admin_user, fmt="csv")
    job = export_job_run(job_id=job.pk)
    path = export_job_file(job=job)
    assert path.is_file()
    later = timezone.now() + dt.timedelta(days=2)
    assert export_job_file(job=job, now=later) is None
    assert export_jobs_expire(now=later) == 1
    assert not path.exists()
    job.refresh_from_db()
    assert job.status == ExportJob.Status.EXPIRED


def test_an_unknown_format_is_refused(admin_user):
    with pytest.raises(ApplicationError, match="format"):
        export_job_create(actor=admin_user, fmt="xlsx")


def test_the_command_writes_the_file_and_says_how_many_rows(tmp_path, reviewed, capsys):
    path = tmp_path / "out.csv"
    call_command("export_labels", "--format", "csv", "--output", str(path))
    assert "Wrote 2 rows" in capsys.readouterr().out
    assert len(path.read_text().splitlines()) == 3
    with pytest.raises(CommandError):
        call_command("export_labels", "--format", "csv", "--output", str(path), "--round", "x")
