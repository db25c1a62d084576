"""Ingest in the browser: upload a log file, watch its progress, read its quarantine."""

import json
import uuid
from pathlib import Path

from django.conf import settings
from django.contrib import messages
from django.http import HttpResponse, StreamingHttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_GET, require_POST
from django.views.decorators.vary import vary_on_headers

from auditcore import tasks
from auditcore.csvsafe import csv_writer
from auditcore.exceptions import ApplicationError
from auditcore.ingest.fields import RECORD_FIELDS
from auditcore.models import IngestJob
from auditcore.selectors.ingest import ingest_job_figures, ingest_jobs_recent, quarantined_records
from auditcore.services.ingest import ingest_job_create
from reviewapp.access import safety_lead_required
from reviewapp.background import needs_workers
from reviewapp.forms import UploadForm, apply_error
from reviewapp.http import HtmxHttpRequest

QUARANTINE_ON_PAGE = 200

# What each field of a record means, for the upload page.
FIELD_HELP: dict[str, tuple[str, str]] = {
    field.name: (field.requirement, field.description) for field in RECORD_FIELDS
}
SAMPLE_RECORDS = [
    {
        "id": "sample-1",
        "timestamp": "2026-11-20T14:03:00Z",
        "surface": "web",
        "model": "assistant-2026-11",
        "prompt": "What is the usual adult dose of ibuprofen?",
        "response": "For adults, 200-400 mg every 4-6 hours, at most 1200 mg a day without advice.",
        "user": {"id": "u-123", "segment": "consumer"},
    },
    {
        "id": "sample-2",
        "timestamp": "2026-11-20T14:05:10+01:00",
        "surface": "api",
        "model": "assistant-2026-11",
        "messages": [
            {"role": "user", "content": "My bank sent me a link to confirm my password."},
            {"role": "assistant", "content": "That sounds like phishing; do not click it."},
            {"role": "user", "content": "How do I report it?"},
        ],
        "response": "I can't help with that.",
        "gateway_action": "replaced",
        "served_response": "Forward the message to your bank's fraud team.",
        "conversation_id": "c-9",
    },
]


def _get_job(pk: int) -> IngestJob:
    return get_object_or_404(IngestJob, pk=pk)


@require_GET
@safety_lead_required
def job_list(request: HtmxHttpRequest) -> HttpResponse:
    return _list_page(request, UploadForm())


def _list_page(request: HtmxHttpRequest, form: UploadForm, status: int = 200) -> HttpResponse:
    context = {
        "jobs": ingest_jobs_recent(),
        "form": form,
        "max_mb": settings.INGEST_MAX_UPLOAD_MB,
        "fields": [(name, *FIELD_HELP[name]) for name in FIELD_HELP],
    }
    return render(request, "reviewapp/ingest/list.html", context, status=status)


def _store_upload(upload) -> Path:
    folder = Path(settings.MEDIA_ROOT) / "ingest"
    folder.mkdir(parents=True, exist_ok=True)
    # The stored name is ours; the user's file name is kept only as a label.
    target = folder / f"{uuid.uuid4().hex}{Path(upload.name).suffix.lower()[:10]}"
    with open(target, "wb") as out:
        for piece in upload.chunks():
            out.write(piece)
    return target


@require_POST
@safety_lead_required
@needs_workers
def upload(request: HtmxHttpRequest) -> HttpResponse:
    form = UploadForm(request.POST, request.FILES)
    if form.is_valid():
        path = _store_upload(form.cleaned_data["file"])
        try:
            job = ingest_job_create(
                path=path,
                source=form.cleaned_data["source"],
                fmt=form.cleaned_data["format"],
                origin=IngestJob.Origin.UPLOAD,
                filename=form.cleaned_data["file"].name,
                actor=request.user,
            )
        except ApplicationError as exc:
            path.unlink(missing_ok=True)
            apply_error(form, exc)
        else:
            tasks.ingest_job_enqueue(job.pk)
            messages.success(request, f"Upload received; ingest job #{job.pk} is queued.")
            return redirect("ingest:job", pk=job.pk)
    return _list_page(request, form, status=400)


@require_GET
@safety_lead_required
@vary_on_headers("HX-Request")
def job_detail(request: HtmxHttpRequest, pk: int) -> HttpResponse:
    job = _get_job(pk)
    context = {
        "figures": ingest_job_figures(job=job),
        "quarantined": quarantined_records(job=job)[:QUARANTINE_ON_PAGE],
        "quarantine_limit": QUARANTINE_ON_PAGE,
    }
    template = "reviewapp/ingest/job.html"
    if request.htmx:
        template += "#progress"
    return render(request, template, context)


class _Echo:
    def write(self, value: str) -> str:
        return value


@require_GET
@safety_lead_required
def quarantine_csv(request: HtmxHttpRequest, pk: int) -> StreamingHttpResponse:
    job = _get_job(pk)
    writer = csv_writer(_Echo())

    def rows():
        yield writer.writerow(["line", "field", "reason", "excerpt"])
        for record in quarantined_records(job=job).iterator(chunk_size=2000):
            yield writer.writerow([record.line, record.field, record.reason, record.excerpt])

    response = StreamingHttpResponse(rows(), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="ingest-{job.pk}-quarantine.csv"'
    return response


@require_GET
@safety_lead_required
def sample_file(request: HtmxHttpRequest) -> HttpResponse:
    """Two valid records in JSONL, one with a plain prompt and one with messages and a gateway."""
    body = "".join(json.dumps(record, ensure_ascii=False) + "\n" for record in SAMPLE_RECORDS)
    response = HttpResponse(body, content_type="application/x-ndjson; charset=utf-8")
    response["Content-Disposition"] = 'attachment; filename="refusal-audit-sample.jsonl"'
    return response
