"""Exports of adjudicated labels to CSV, JSON Lines and Parquet, streamed batch by batch.

On PostgreSQL the rows come formatted from COPY (``selectors/export_copy.py``) and go straight
to the file (CSV, JSON Lines) or through pyarrow's JSON reader into Parquet row groups; other
databases take the Python path over ``selectors.exports.label_rows``. Both write the same cells.
"""

from __future__ import annotations

import functools
import os
import uuid
from collections.abc import Callable, Iterable
from concurrent.futures import Future, ThreadPoolExecutor
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import orjson
from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser
from django.db import connection, transaction
from django.db.models import Q
from django.utils import timezone

from auditcore.csvsafe import csv_writer
from auditcore.exceptions import ApplicationError
from auditcore.lazy import LazyModule
from auditcore.models import AuditRound, ExportFormat, ExportJob
from auditcore.selectors.export_copy import csv_copy_sql, jsonl_copy_sql, label_copy
from auditcore.selectors.exports import (
    COLUMNS,
    TEXT_COLUMNS,
    label_row_count,
    label_rows,
)
from auditcore.services.audit import audit_event_record

# pyarrow is slow to import, which every worker and command would pay for; only a Parquet export
# needs it (bench/README.md).
pa = LazyModule("pyarrow")
pa_json = LazyModule("pyarrow.json")
pq = LazyModule("pyarrow.parquet")

DEFAULT_TTL_HOURS = 24


@functools.cache
def _parquet_types() -> dict[str, pa.DataType]:
    ts = pa.timestamp("us", tz="UTC")
    verdict = pa.struct(
        [
            ("reviewer", pa.string()),
            ("decision", pa.string()),
            ("reason_code", pa.string()),
            ("observed_label", pa.string()),
            ("policy_version", pa.string()),
            ("locked_at", ts),
            ("superseded", pa.bool_()),
        ]
    )
    turn = pa.struct([("role", pa.string()), ("content", pa.string())])
    return {
        "item_id": pa.int64(),
        "round": pa.string(),
        "external_id": pa.string(),
        "source": pa.string(),
        "occurred_at": ts,
        "surface": pa.string(),
        "model_version": pa.string(),
        "category": pa.string(),
        "policy_version": pa.string(),
        "stratum": pa.string(),
        "inclusion_probability": pa.float64(),
        "weight": pa.float64(),
        "final_decision": pa.string(),
        "adjudicated_by": pa.string(),
        "adjudicated_at": ts,
        "verdicts": pa.list_(verdict),
        "response_label": pa.string(),
        "response_score": pa.float64(),
        "served_label": pa.string(),
        "gateway_action": pa.string(),
        "category_score": pa.float64(),
        "detector_version": pa.string(),
        "prompt": pa.string(),
        "earlier_turns": pa.list_(turn),
        "response": pa.string(),
        "served_response": pa.string(),
    }


Batches = Iterable[list[dict[str, Any]]]
OnBatch = Callable[[int], None]


def export_columns(include_text: bool) -> tuple[str, ...]:
    return (*COLUMNS, *(TEXT_COLUMNS if include_text else ()))


def parquet_schema(include_text: bool) -> pa.Schema:
    types = _parquet_types()
    return pa.schema([(name, types[name]) for name in export_columns(include_text)])


def _csv_value(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, list | dict):
        return orjson.dumps(value).decode()
    return "" if value is None else value


def _turns(value: Any) -> list[dict[str, str]]:
    """Earlier turns as every format exports them: role and content of each turn, as text."""
    if not isinstance(value, list):
        return []
    return [
        {"role": str(t.get("role", "")), "content": str(t.get("content", ""))}
        for t in value
        if isinstance(t, dict)
    ]


def _with_turns(batches: Batches, columns: tuple[str, ...]) -> Batches:
    for rows in batches:
        if "earlier_turns" in columns:
            for row in rows:
                row["earlier_turns"] = _turns(row["earlier_turns"])
        yield rows


def _write_csv(batches: Batches, path: Path, columns: tuple[str, ...], on_batch: OnBatch) -> int:
    written = 0
    with path.open("w", newline="", encoding="utf-8") as out:
        writer = csv_writer(out)
        writer.writerow(columns)
        for rows in batches:
            writer.writerows([_csv_value(row[c]) for c in columns] for row in rows)
            written += len(rows)
            on_batch(written)
    return written


def _write_jsonl(batches: Batches, path: Path, columns: tuple[str, ...], on_batch: OnBatch) -> int:
    written = 0
    with path.open("wb") as out:
        for rows in batches:
            out.write(
                b"".join(
                    orjson.dumps({c: row[c] for c in columns}, option=orjson.OPT_APPEND_NEWLINE)
                    for row in rows
                )
            )
            written += len(rows)
            on_batch(written)
    return written


def _write_parquet(
    batches: Batches, path: Path, columns: tuple[str, ...], on_batch: OnBatch
) -> int:
    schema = parquet_schema("prompt" in columns)
    written = 0
    # One row group per batch: the writer never holds more than one batch in memory.
    with pq.ParquetWriter(path, schema, compression="zstd") as writer:
        for rows in batches:
            table = pa.Table.from_pylist(rows, schema=schema)
            writer.write_table(table)
            written += len(rows)
            on_batch(written)
    return written


_WRITERS = {
    ExportFormat.CSV: _write_csv,
    ExportFormat.JSONL: _write_jsonl,
    ExportFormat.PARQUET: _write_parquet,
}


def _json_table(lines: bytes, schema: pa.Schema) -> pa.Table:
    """JSON Lines parsed to columns in C++; a block must hold the longest line."""
    parse = pa_json.ParseOptions(explicit_schema=schema, unexpected_field_behavior="error")
    try:
        read = pa_json.ReadOptions(block_size=max(1 << 22, len(lines) // 2 + 1))
        return pa_json.read_json(pa.py_buffer(lines), read_options=read, parse_options=parse)
    except pa.ArrowInvalid:  # a line longer than the block
        read = pa_json.ReadOptions(block_size=len(lines) + 1)
        return pa_json.read_json(pa.py_buffer(lines), read_options=read, parse_options=parse)


def _copy_write(
    fmt: str,
    path: Path,
    *,
    round_id: int | None,
    include_text: bool,
    slices: int,
    on_batch: OnBatch,
) -> int:
    """The PostgreSQL path: COPY's output goes to the file as it arrives, slice by slice."""

    def run(sql: Callable[..., str], write: Callable[[bytes], object], on_slice: OnBatch) -> int:
        return label_copy(
            sql=sql(round_id=round_id, include_text=include_text),
            round_id=round_id,
            slice_rows=slices,
            write=write,
            on_slice=on_slice,
        )

    if fmt == ExportFormat.CSV:
        with path.open("wb") as out:
            out.write((",".join(export_columns(include_text)) + "\n").encode())
            return run(csv_copy_sql, out.write, on_batch)
    if fmt == ExportFormat.JSONL:
        with path.open("wb") as out:
            return run(jsonl_copy_sql, out.write, on_batch)
    schema = parquet_schema(include_text)
    lines: list[bytes] = []
    writing: list[Future] = []

    def write_group(writer: pq.ParquetWriter, data: bytes) -> None:
        writer.write_table(_json_table(data, schema))

    # One row group per slice. A thread parses and writes a slice while PostgreSQL sends the
    # next (pyarrow releases the GIL), so at most two slices are held at once.
    with (
        pq.ParquetWriter(path, schema, compression="zstd") as writer,
        ThreadPoolExecutor(max_workers=1) as thread,
    ):

        def row_group(written: int) -> None:
            for previous in writing:
                previous.result()
            writing[:] = [thread.submit(write_group, writer, b"".join(lines))]
            lines.clear()
            on_batch(written)

        rows = run(jsonl_copy_sql, lines.append, row_group)
        for previous in writing:
            previous.result()
        return rows


def _copies() -> bool:
    """PostgreSQL formats and streams the rows itself; elsewhere Python writes them."""
    return connection.vendor == "postgresql"


def labels_write(
    *,
    fmt: str,
    path: Path,
    round_id: int | None = None,
    include_text: bool = False,
    batch_size: int | None = None,
    on_batch: OnBatch | None = None,
) -> int:
    """Write the adjudicated labels to ``path``; returns the number of rows written.

    ``batch_size`` rows make a batch (a Parquet row group, a progress step); by default
    settings.EXPORT_COPY_ROWS on PostgreSQL, settings.EXPORT_BATCH_ROWS elsewhere.
    """
    if fmt not in _WRITERS:
        raise ApplicationError(
            f"format: must be one of {', '.join(ExportFormat.values)}.", {"field": "format"}
        )
    progress = on_batch or (lambda _written: None)
    if _copies():
        return _copy_write(
            fmt,
            path,
            round_id=round_id,
            include_text=include_text,
            slices=batch_size or settings.EXPORT_COPY_ROWS,
            on_batch=progress,
        )
    columns = export_columns(include_text)
    batches = label_rows(
        round_id=round_id,
        include_text=include_text,
        batch_size=batch_size or settings.EXPORT_BATCH_ROWS,
    )
    return _WRITERS[fmt](_with_turns(batches, columns), path, columns, progress)


def exports_dir() -> Path:
    folder = Path(settings.DATA_DIR) / "exports"
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def _ttl() -> timedelta:
    return timedelta(hours=getattr(settings, "EXPORT_TTL_HOURS", DEFAULT_TTL_HOURS))


def _resolve_round(round_id: int | None, round_name: str | None) -> AuditRound | None:
    if round_id is not None:
        found = AuditRound.objects.filter(pk=round_id).first()
        if found is None:
            raise ApplicationError("round: no such round.", {"field": "round"})
        return found
    if round_name:
        found = AuditRound.objects.filter(name=round_name).first()
        if found is None:
            raise ApplicationError(f"round: no round is named {round_name!r}.", {"field": "round"})
        return found
    return None


@transaction.atomic
def export_job_create(
    *,
    actor: AbstractBaseUser | None,
    fmt: str,
    round_id: int | None = None,
    round_name: str | None = None,
    include_text: bool = False,
    origin: str = ExportJob.Origin.BROWSER,
    output: str = "",
) -> ExportJob:
    """Record an export; the caller sends it to a worker (``tasks.export_job_enqueue``) or runs
    it (``export_job_run``)."""
    if fmt not in ExportFormat.values:
        raise ApplicationError(
            f"format: must be one of {', '.join(ExportFormat.values)}.", {"field": "format"}
        )
    audit_round = _resolve_round(round_id, round_name)
    job = ExportJob(
        format=fmt,
        round=audit_round,
        include_text=include_text,
        origin=origin,
        created_by=actor if actor is not None and actor.is_authenticated else None,
        rows_total=label_row_count(round_id=audit_round.pk if audit_round else None),
        file_path=output,
    )
    job.full_clean()
    job.save()
    return job


def lease() -> timedelta:
    """A running export renews its lease with every batch it writes; one silent for this long
    has lost its worker (settings.EXPORT_LEASE_SECONDS)."""
    return timedelta(seconds=settings.EXPORT_LEASE_SECONDS)


class LeaseLostError(Exception):
    """Another run took the job over after this one's lease lapsed."""


def _claim(job_id: int) -> str | None:
    """Take a queued job, or a running one whose lease has lapsed; returns the lease token.

    One conditional UPDATE, so of two runs at once only one gets the job.
    """
    now = timezone.now()
    lapsed = Q(status=ExportJob.Status.RUNNING) & (
        Q(heartbeat_at__lt=now - lease()) | Q(heartbeat_at__isnull=True)
    )
    token = uuid.uuid4().hex
    claimed = ExportJob.objects.filter(Q(pk=job_id) & (Q(status=ExportJob.Status.QUEUED) | lapsed))
    if not claimed.update(
        status=ExportJob.Status.RUNNING,
        started_at=now,
        heartbeat_at=now,
        lease_token=token,
        rows_written=0,
    ):
        return None
    # A run that died mid-write left its partial file behind.
    for leftover in exports_dir().glob(f"labels-{job_id}-*.part"):
        leftover.unlink(missing_ok=True)
    return token


def _held(job_id: int, token: str):
    return ExportJob.objects.filter(pk=job_id, lease_token=token, status=ExportJob.Status.RUNNING)


def _progress(job_id: int, token: str) -> OnBatch:
    def update(written: int) -> None:
        if not _held(job_id, token).update(rows_written=written, heartbeat_at=timezone.now()):
            raise LeaseLostError(f"export {job_id} was taken over by another run")

    return update


def export_job_run(*, job_id: int, batch_size: int | None = None) -> ExportJob:
    """Write the job's file, then record the export (who, what, how many rows) in the audit log.

    A job another run holds under a live lease is left alone and returned still running.
    """
    token = _claim(job_id)
    if token is None:
        return ExportJob.objects.get(pk=job_id)
    job = ExportJob.objects.select_related("round", "created_by").get(pk=job_id)
    managed = not job.file_path
    path = (
        exports_dir() / f"labels-{job.pk}-{uuid.uuid4().hex}.{job.format}"
        if managed
        else Path(job.file_path)
    )
    partial = path.with_name(path.name + ".part")
    try:
        rows = labels_write(
            fmt=job.format,
            path=partial,
            round_id=job.round_id,
            include_text=job.include_text,
            batch_size=batch_size,
            on_batch=_progress(job.pk, token),
        )
    except LeaseLostError:
        partial.unlink(missing_ok=True)
        return ExportJob.objects.get(pk=job_id)  # the run that holds it now reports
    except Exception as exc:
        partial.unlink(missing_ok=True)
        _held(job.pk, token).update(
            status=ExportJob.Status.FAILED, error=str(exc)[:2000], finished_at=timezone.now()
        )
        raise
    now = timezone.now()
    with transaction.atomic():
        finished = _held(job.pk, token).select_for_update().first()
        if finished is None:  # taken over while the last batch was written
            partial.unlink(missing_ok=True)
            return ExportJob.objects.get(pk=job_id)
        os.replace(partial, path)
        job.status = ExportJob.Status.SUCCEEDED
        job.rows_written = rows
        job.rows_total = rows
        job.file_path = str(path)
        job.file_size = path.stat().st_size
        job.finished_at = now
        job.heartbeat_at = now
        job.expires_at = now + _ttl() if managed else None
        job.save(
            update_fields=[
                "status", "rows_written", "rows_total", "file_path", "file_size",
                "finished_at", "heartbeat_at", "expires_at",
            ]
        )  # fmt: skip
        audit_event_record(
            actor=job.created_by,
            action="labels.export",
            obj=job,
            after={
                "format": job.format,
                "round": job.round.name if job.round else None,
                "include_text": job.include_text,
                "rows": rows,
                "origin": job.origin,
                "file": path.name if managed else str(path),
            },
        )
    return job


def export_labels_to_path(
    *,
    actor: AbstractBaseUser | None,
    fmt: str,
    output: str,
    round_name: str | None = None,
    include_text: bool = False,
    batch_size: int | None = None,
) -> ExportJob:
    """The command line's export: recorded like any other, written where the caller asks."""
    if not output:
        raise ApplicationError("output: give a path to write to.", {"field": "output"})
    job = export_job_create(
        actor=actor,
        fmt=fmt,
        round_name=round_name,
        include_text=include_text,
        origin=ExportJob.Origin.COMMAND,
        output=str(Path(output).resolve()),
    )
    return export_job_run(job_id=job.pk, batch_size=batch_size)


def export_jobs_expire(*, now: datetime | None = None) -> int:
    """Delete the files of exports past their expiry; returns how many expired."""
    now = now or timezone.now()
    folder = exports_dir().resolve()
    expired = 0
    for job in ExportJob.objects.filter(
        status=ExportJob.Status.SUCCEEDED, expires_at__isnull=False, expires_at__lte=now
    ):
        path = Path(job.file_path).resolve()
        # Only files this application wrote into its own folder are ever deleted.
        if path.parent == folder:
            path.unlink(missing_ok=True)
        updated = ExportJob.objects.filter(pk=job.pk, status=ExportJob.Status.SUCCEEDED).update(
            status=ExportJob.Status.EXPIRED, file_path="", file_size=0
        )
        expired += updated
    return expired


def export_job_file(*, job: ExportJob, now: datetime | None = None) -> Path | None:
    """The finished file of a job that has not expired, or None."""
    now = now or timezone.now()
    if job.status != ExportJob.Status.SUCCEEDED or not job.file_path:
        return None
    if job.expires_at is not None and job.expires_at <= now:
        return None
    path = Path(job.file_path)
    return path if path.is_file() else None
