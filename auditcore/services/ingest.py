"""Ingest jobs: plan a file into chunks, process each chunk in one transaction, push batches."""

from __future__ import annotations

import functools
import gzip
import hashlib
import io
import os
import shutil
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO

from django.conf import settings
from django.db import transaction
from django.db.models import F
from django.utils import timezone

from auditcore.detection.category import CategoryClassifier, CategorySpec
from auditcore.exceptions import ApplicationError
from auditcore.ingest.fields import GZIP_MAGIC
from auditcore.ingest.parsers import (
    FORMATS,
    SNIFF_BYTES,
    ParseError,
    UnsupportedFormatError,
    detect_format,
    iter_records,
)
from auditcore.ingest.pipeline import PreparedRow, Preparer, Quarantine, cyclic_gc_paused
from auditcore.ingest.writer import add_to_stratum_counts, write_rows
from auditcore.models import (
    IngestChunk,
    IngestJob,
    Interaction,
    ModelVersion,
    QuarantinedRecord,
    Surface,
)
from auditcore.selectors.detection import response_classifier
from auditcore.selectors.policy import current_category_specs
from auditcore.services.conversations import conversation_join

MAX_PUSH_RECORDS = 10_000


def _keys() -> tuple[bytes, str]:
    """The HMAC key for user ids and the deployment's salt for ingest-time sampling keys."""
    key = settings.PII_HMAC_KEY.encode()
    return key, hashlib.sha256(b"sampling:" + key).hexdigest()[:32]


@functools.lru_cache(maxsize=4)
def _category_classifier(specs: tuple[CategorySpec, ...]) -> CategoryClassifier:
    """Built once per worker process and policy: building one costs milliseconds per chunk."""
    return CategoryClassifier(specs)


def _preparer(source: str) -> Preparer:
    user_key, salt = _keys()
    return Preparer(
        source=source,
        categories=_category_classifier(tuple(current_category_specs())),
        user_key=user_key,
        sampling_salt=salt,
        classify=response_classifier().classify,
    )


def _validate_source(source: str) -> str:
    source = (source or "").strip()
    if not source or len(source) > 100:
        raise ApplicationError("source must be 1 to 100 characters", {"field": "source"})
    return source


@transaction.atomic
def ingest_job_create(
    *, path: Path, source: str, fmt: str = "auto", origin: str, filename: str = "", actor=None
) -> IngestJob:
    """Record a job for a file on disk; the caller enqueues `ingest_job_run` after commit."""
    if fmt not in FORMATS:
        raise ApplicationError(
            f"format must be one of {', '.join(FORMATS)}", {"field": "format", "value": fmt}
        )
    path = Path(path)
    if not path.is_file() or not os.access(path, os.R_OK):
        raise ApplicationError(f"cannot read the file {path}", {"field": "path"})
    job = IngestJob(
        source=_validate_source(source),
        origin=origin,
        format=fmt,
        filename=filename or path.name,
        file_path=str(path.resolve()),
        total_bytes=path.stat().st_size,
        created_by=actor if actor is not None and actor.is_authenticated else None,
    )
    job.full_clean()
    job.save()
    return job


def _decompress(job: IngestJob) -> str:
    """A gzip input is expanded once, streaming, so chunks can seek in it."""
    with open(job.file_path, "rb") as handle:
        if handle.read(2) != GZIP_MAGIC:
            return job.file_path
    target = Path(settings.DATA_DIR) / "ingest" / f"job-{job.pk}.log"
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_suffix(".partial")
    with gzip.open(job.file_path, "rb") as src, open(partial, "wb") as dst:
        shutil.copyfileobj(src, dst, 1024 * 1024)
    partial.replace(target)
    return str(target)


_PLAN_BLOCK = 4 * 1024 * 1024


Span = tuple[int, int, int]  # a chunk's byte range and the number of its first line


def _cut_chunks(handle: BinaryIO, fmt: str, per_chunk: int) -> Iterator[Span]:
    """Byte ranges of about `per_chunk` records, as (start, end, first line), from the start."""
    if fmt == "csv":
        return _cut_csv(handle, per_chunk)
    return _cut_lines(handle, per_chunk)


def _cut_lines(handle: BinaryIO, per_chunk: int) -> Iterator[Span]:
    """One record per line: newlines are counted a block at a time, in C."""
    start, first_line, lines, block_start = 0, 1, 0, 0
    while block := handle.read(_PLAN_BLOCK):
        pos = 0
        while (count := block.count(b"\n", pos)) >= per_chunk - lines:
            for _ in range(per_chunk - lines):
                pos = block.index(b"\n", pos) + 1
            end = block_start + pos
            yield start, end, first_line
            first_line += per_chunk
            start, lines = end, 0
        lines += count
        block_start += len(block)
    if block_start > start:
        yield start, block_start, first_line


def _cut_csv(handle: BinaryIO, per_chunk: int) -> Iterator[Span]:
    header = handle.readline()
    position, line_number = len(header), 1
    start, first_line, records, in_quotes = position, line_number + 1, 0, False
    for line in handle:
        line_number += 1
        position += len(line)
        # RFC 4180 doubles quotes inside fields, so odd parity means a field spans lines.
        in_quotes ^= bool(line.count(b'"') & 1)
        if in_quotes:
            continue
        records += 1
        if records >= per_chunk:
            yield start, position, first_line
            start, first_line, records = position, line_number + 1, 0
    if position > start:
        yield start, position, first_line


# Chunks are recorded and handed to the workers in batches as the file is cut: the first alone,
# so that it runs while the rest of the file is still being cut, then this many at a time.
_PLAN_BATCH = 8


def _batches(spans: Iterator[Span]) -> Iterator[list[Span]]:
    batch: list[Span] = []
    size = 1
    for span in spans:
        batch.append(span)
        if len(batch) == size:
            yield batch
            batch, size = [], _PLAN_BATCH
    if batch:
        yield batch


@dataclass(frozen=True)
class JobPlan:
    pending: list[int]  # ids of the chunks not done yet, in order
    finished: bool  # every chunk was done by the time the file was cut: the plan ended the job


def ingest_job_plan(
    *, job_id: int, dispatch: Callable[[list[int]], object] = lambda chunk_ids: None
) -> JobPlan:
    """Claim a queued job and cut it into chunks.

    Each batch of new chunks goes to `dispatch` as soon as it is recorded, so the first chunk
    is processed while the rest of the file is being cut; on a rerun, the chunks still pending
    go to it at once.
    """
    claimed = IngestJob.objects.filter(pk=job_id, status=IngestJob.Status.QUEUED).update(
        status=IngestJob.Status.RUNNING, started_at=timezone.now()
    )
    job = IngestJob.objects.get(pk=job_id)
    if not claimed and (job.status != IngestJob.Status.RUNNING or job.chunk_count):
        pending = _pending_chunks(job_id)
        dispatch(pending)
        return JobPlan(pending, finished=False)
    try:
        work_path = _decompress(job)
        with open(work_path, "rb") as handle:
            head = handle.read(SNIFF_BYTES)
        fmt = job.format if job.format != "auto" else detect_format(head)
    except (OSError, EOFError, gzip.BadGzipFile, UnsupportedFormatError) as exc:
        ingest_job_fail(job_id=job_id, error=f"cannot read the input: {exc}")
        return JobPlan([], finished=False)
    # Chunks read these, so they are stored before the first chunk is handed over; the chunk
    # count only once the whole file is cut, since it is what lets the job finish.
    IngestJob.objects.filter(pk=job_id).update(
        work_path=work_path, detected_format=fmt, total_bytes=os.path.getsize(work_path)
    )
    count = 0
    try:
        with open(work_path, "rb") as handle:
            for batch in _batches(_cut_chunks(handle, fmt, settings.INGEST_CHUNK_RECORDS)):
                IngestChunk.objects.bulk_create(
                    [
                        IngestChunk(
                            job_id=job_id, index=count + i, start_byte=s, end_byte=e, first_line=f
                        )
                        for i, (s, e, f) in enumerate(batch)
                    ],
                    ignore_conflicts=True,  # already recorded by an interrupted run of this plan
                )
                dispatch(_pending_chunks(job_id, count, count + len(batch)))
                count += len(batch)
    except OSError as exc:
        ingest_job_fail(job_id=job_id, error=f"cannot read the input: {exc}")
        return JobPlan([], finished=False)
    IngestJob.objects.filter(pk=job_id).update(chunk_count=count)
    finished = _finish_if_complete(job_id)
    return JobPlan(_pending_chunks(job_id), finished)


def _pending_chunks(job_id: int, first: int = 0, stop: int | None = None) -> list[int]:
    """Ids of the job's pending chunks, in order; with `stop`, only those indexed first..stop-1."""
    chunks = IngestChunk.objects.filter(
        job_id=job_id, status=IngestChunk.Status.PENDING, index__gte=first
    )
    if stop is not None:
        chunks = chunks.filter(index__lt=stop)
    return list(chunks.order_by("index").values_list("pk", flat=True))


def _read_chunk(job: IngestJob, chunk: IngestChunk) -> io.BytesIO:
    with open(job.work_path, "rb") as handle:
        header = handle.readline() if job.detected_format == "csv" else b""
        handle.seek(chunk.start_byte)
        return io.BytesIO(header + handle.read(chunk.end_byte - chunk.start_byte))


def _prepare_chunk(
    job: IngestJob, chunk: IngestChunk
) -> tuple[list[PreparedRow], list[Quarantine]]:
    preparer = _preparer(job.source)
    # The parser numbers lines from the chunk's start (the CSV header is its line 1).
    offset = chunk.first_line - (2 if job.detected_format == "csv" else 1)
    parse_errors: list[Quarantine] = []
    records: list[tuple[int, dict[str, Any]]] = []
    for line, parsed in iter_records(_read_chunk(job, chunk), job.detected_format):
        if isinstance(parsed, ParseError):
            parse_errors.append(Quarantine(line + offset, "", parsed.reason, parsed.excerpt))
        else:
            records.append((line + offset, parsed))
    return _split(preparer.prepare_many(records), parse_errors)


def _split(
    prepared: list[PreparedRow | Quarantine], rejected: list[Quarantine]
) -> tuple[list[PreparedRow], list[Quarantine]]:
    """Rows to write, and every rejection in line order."""
    rows: list[PreparedRow] = []
    for item in prepared:
        (rejected if isinstance(item, Quarantine) else rows).append(item)
    rejected.sort(key=lambda q: q.line)
    return rows, rejected


def _ids_for(model, names: set[str], job_id: int | None) -> dict[str, int]:
    ids = dict(model.objects.filter(name__in=names).values_list("name", "pk"))
    missing = names - ids.keys()
    if missing:
        model.objects.bulk_create(
            [model(name=name, first_job_id=job_id) for name in sorted(missing)],
            ignore_conflicts=True,
        )
        ids.update(model.objects.filter(name__in=missing).values_list("name", "pk"))
    return ids


@dataclass(frozen=True)
class WriteCounts:
    received: int
    inserted: int
    duplicates: int
    rejected: int


def _storable(text: str) -> str:
    """A rejected record's text as PostgreSQL can store it: a NUL (which a broken line or a
    non-object record may hold) shown as U+FFFD, as validation does for accepted records."""
    return text.replace("\x00", "\ufffd")


def _store(
    *, job_id: int, source: str, rows: list[PreparedRow], rejected: list[Quarantine]
) -> WriteCounts:
    """Write one batch inside the caller's transaction."""
    surface_ids = _ids_for(Surface, {r.surface for r in rows}, job_id)
    model_ids = _ids_for(ModelVersion, {r.model for r in rows}, job_id)
    tally = write_rows(
        rows=rows,
        source=source,
        job_id=job_id,
        surface_ids=surface_ids,
        model_ids=model_ids,
        now=timezone.now(),
    )
    add_to_stratum_counts(tally)
    QuarantinedRecord.objects.bulk_create(
        [
            QuarantinedRecord(
                job_id=job_id,
                line=q.line,
                field=_storable(q.field),
                reason=_storable(q.reason),
                excerpt=_storable(q.excerpt),
            )
            for q in rejected
        ],
        ignore_conflicts=True,
    )
    inserted = sum(int(v[0]) for v in tally.values())
    return WriteCounts(
        received=len(rows) + len(rejected),
        inserted=inserted,
        duplicates=len(rows) - inserted,
        rejected=len(rejected),
    )


def ingest_chunk_process(*, chunk_id: int) -> bool:
    """Process one chunk; its rows, its quarantine and its checkpoint commit together. True when
    it was the job's last and the job has now succeeded."""
    with cyclic_gc_paused():
        return _process_chunk(chunk_id)


def _process_chunk(chunk_id: int) -> bool:
    chunk = IngestChunk.objects.select_related("job").get(pk=chunk_id)
    if chunk.status == IngestChunk.Status.DONE or chunk.job.status != IngestJob.Status.RUNNING:
        return False
    job = chunk.job
    # The CPU-heavy part runs outside the transaction, so locks are held only for the write.
    rows, rejected = _prepare_chunk(job, chunk)
    with transaction.atomic():
        locked = IngestChunk.objects.select_for_update().get(pk=chunk_id)
        if locked.status == IngestChunk.Status.DONE:
            return False  # a redelivered copy of this chunk already committed it
        counts = _store(job_id=job.pk, source=job.source, rows=rows, rejected=rejected)
        IngestChunk.objects.filter(pk=chunk_id).update(
            status=IngestChunk.Status.DONE,
            received=counts.received,
            inserted=counts.inserted,
            duplicates=counts.duplicates,
            rejected=counts.rejected,
            finished_at=timezone.now(),
        )
        IngestJob.objects.filter(pk=job.pk).update(
            received=F("received") + counts.received,
            inserted=F("inserted") + counts.inserted,
            duplicates=F("duplicates") + counts.duplicates,
            rejected=F("rejected") + counts.rejected,
            chunks_done=F("chunks_done") + 1,
            bytes_done=F("bytes_done") + (chunk.end_byte - chunk.start_byte),
        )
    return _finish_if_complete(job.pk)


def _join_conversations(job_id: int) -> None:
    """Join the conversations the job's records belong to (their earlier turns may be older)."""
    ids = (
        Interaction.objects.filter(ingest_job_id=job_id)
        .exclude(conversation_id="")
        .values_list("conversation_id", flat=True)
        .distinct()
    )
    conversation_join(
        conversation_ids=list(ids),
        classifier=_category_classifier(tuple(current_category_specs())),
    )


def _finish_if_complete(job_id: int) -> bool:
    finished = IngestJob.objects.filter(
        pk=job_id, status=IngestJob.Status.RUNNING, chunks_done=F("chunk_count")
    ).update(status=IngestJob.Status.SUCCEEDED, finished_at=timezone.now())
    if finished:
        _join_conversations(job_id)
        job = IngestJob.objects.get(pk=job_id)
        if job.work_path and job.work_path != job.file_path:
            Path(job.work_path).unlink(missing_ok=True)
    return bool(finished)


def ingest_job_fail(*, job_id: int, error: str) -> None:
    IngestJob.objects.filter(
        pk=job_id, status__in=[IngestJob.Status.QUEUED, IngestJob.Status.RUNNING]
    ).update(status=IngestJob.Status.FAILED, error=error[:2000], finished_at=timezone.now())


def ingest_job_run_inline(*, job_id: int) -> IngestJob:
    """Run a whole job in this process (the demo seed, tests, and `ingest` without a worker)."""
    for chunk_id in ingest_job_plan(job_id=job_id).pending:
        ingest_chunk_process(chunk_id=chunk_id)
    return IngestJob.objects.get(pk=job_id)


@dataclass(frozen=True)
class RecordError:
    index: int
    field: str
    reason: str


@dataclass(frozen=True)
class PushResult:
    job: IngestJob
    errors: list[RecordError]


def ingest_records_push(*, records: list[Any], source: str, actor=None) -> PushResult:
    """A batch pushed over the API: same validation and idempotency, answered synchronously."""
    source = _validate_source(source)
    if not isinstance(records, list) or not records:
        raise ApplicationError("records must be a non-empty list", {"field": "records"})
    if len(records) > MAX_PUSH_RECORDS:
        raise ApplicationError(
            f"a batch holds at most {MAX_PUSH_RECORDS} records; got {len(records)}",
            {"field": "records"},
        )
    not_objects = [
        Quarantine(index, "", "a record must be a JSON object", str(raw)[:200])
        for index, raw in enumerate(records)
        if not isinstance(raw, dict)
    ]
    objects = [(index, raw) for index, raw in enumerate(records) if isinstance(raw, dict)]
    rows, rejected = _split(_preparer(source).prepare_many(objects), not_objects)
    now = timezone.now()
    with transaction.atomic():
        job = IngestJob.objects.create(
            source=source,
            origin=IngestJob.Origin.API,
            format="json",
            detected_format="json",
            status=IngestJob.Status.RUNNING,
            created_by=actor if actor is not None and actor.is_authenticated else None,
            started_at=now,
        )
        counts = _store(job_id=job.pk, source=source, rows=rows, rejected=rejected)
        _join_conversations(job.pk)
        IngestJob.objects.filter(pk=job.pk).update(
            status=IngestJob.Status.SUCCEEDED,
            received=counts.received,
            inserted=counts.inserted,
            duplicates=counts.duplicates,
            rejected=counts.rejected,
            finished_at=timezone.now(),
        )
    job.refresh_from_db()
    errors = [RecordError(q.line, q.field, q.reason) for q in rejected]
    return PushResult(job=job, errors=errors)
