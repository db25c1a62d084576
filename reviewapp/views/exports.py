"""Exports of adjudicated labels in the browser (admins): start, follow, download, list."""

from datetime import timedelta

from django.conf import settings
from django.core import signing
from django.http import FileResponse, Http404, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_POST
from django.views.decorators.vary import vary_on_headers
from django_htmx.http import HttpResponseClientRedirect

from auditcore import tasks
from auditcore.exceptions import ApplicationError
from auditcore.models import ExportJob
from auditcore.selectors.exports import export_jobs_recent
from auditcore.services.exports import export_job_create, export_job_file
from reviewapp.access import admin_required
from reviewapp.api.exports import MEDIA_TYPES
from reviewapp.background import needs_workers
from reviewapp.forms import ExportForm, apply_error
from reviewapp.http import HtmxHttpRequest

TEMPLATE = "reviewapp/exports/list.html"
_SALT = "reviewapp.exports.download"


def download_token(job: ExportJob) -> str:
    return signing.TimestampSigner(salt=_SALT).sign(str(job.pk))


def download_url(job: ExportJob) -> str | None:
    if (
        job.status != ExportJob.Status.SUCCEEDED
        or job.file_expired
        or job.origin == ExportJob.Origin.COMMAND
    ):
        return None
    return reverse("exports:download", args=[job.pk, download_token(job)])


def _link_max_age() -> timedelta:
    return timedelta(minutes=settings.EXPORT_LINK_MINUTES)


def _get_job(pk: int) -> ExportJob:
    return get_object_or_404(ExportJob.objects.select_related("round", "created_by"), pk=pk)


def _rows(jobs) -> list[dict]:
    return [{"job": job, "url": download_url(job)} for job in jobs]


def _page(request: HtmxHttpRequest, form: ExportForm, status: int = 200) -> HttpResponse:
    context = {
        "form": form,
        "rows": _rows(export_jobs_recent()),
        "link_minutes": settings.EXPORT_LINK_MINUTES,
        "ttl_hours": settings.EXPORT_TTL_HOURS,
    }
    return render(request, TEMPLATE, context, status=status)


@require_GET
@admin_required
def export_list(request: HtmxHttpRequest) -> HttpResponse:
    return _page(request, ExportForm())


@require_POST
@admin_required
@needs_workers
def export_start(request: HtmxHttpRequest) -> HttpResponse:
    form = ExportForm(request.POST)
    if form.is_valid():
        try:
            job = export_job_create(
                actor=request.user,
                fmt=form.cleaned_data["format"],
                round_id=form.cleaned_data["round"].pk if form.cleaned_data["round"] else None,
                include_text=form.cleaned_data["include_text"],
            )
        except ApplicationError as exc:
            apply_error(form, exc)
        else:
            tasks.export_job_enqueue(job.pk)
            url = reverse("exports:detail", args=[job.pk])
            return HttpResponseClientRedirect(url) if request.htmx else redirect(url)
    return _page(request, form, status=400)


@require_GET
@admin_required
@vary_on_headers("HX-Request")
def export_detail(request: HtmxHttpRequest, pk: int) -> HttpResponse:
    """The export's progress; the page polls its progress fragment until the file is ready."""
    job = _get_job(pk)
    template = "reviewapp/exports/detail.html"
    if request.htmx:
        template += "#progress"
    return render(request, template, {"job": job, "url": download_url(job)})


@require_GET
@admin_required
def export_download(request: HtmxHttpRequest, pk: int, token: str) -> FileResponse:
    """The file behind a signed link that expires; an admin session is needed as well."""
    try:
        value = signing.TimestampSigner(salt=_SALT).unsign(token, max_age=_link_max_age())
    except signing.SignatureExpired:
        raise Http404("This download link expired: open the export again.") from None
    except signing.BadSignature:
        raise Http404("Not a download link.") from None
    if value != str(pk):
        raise Http404("Not a download link.")
    job = _get_job(pk)
    path = export_job_file(job=job)
    if path is None:
        raise Http404("This export's file expired or is not ready.")
    return FileResponse(
        path.open("rb"),
        as_attachment=True,
        filename=job.filename,
        content_type=MEDIA_TYPES[job.format],
    )
