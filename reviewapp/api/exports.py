"""Exports of adjudicated labels over the API (admins): start one, follow it, fetch the file."""

from django.http import FileResponse, Http404
from django.urls import reverse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import serializers
from rest_framework.negotiation import BaseContentNegotiation
from rest_framework.throttling import BaseThrottle

from auditcore import tasks
from auditcore.models import ExportFormat, ExportJob
from auditcore.selectors.exports import export_jobs_recent
from auditcore.services.exports import export_job_create, export_job_file
from reviewapp.api.common import AdminApi, ExpensiveThrottle, ListParams, get_or_404, paginated

MEDIA_TYPES = {
    ExportFormat.CSV: "text/csv",
    ExportFormat.JSONL: "application/x-ndjson",
    ExportFormat.PARQUET: "application/vnd.apache.parquet",
}


class ExportOutput(serializers.Serializer):
    id = serializers.IntegerField()
    format = serializers.CharField()
    round = serializers.CharField(source="round.name", allow_null=True)
    include_text = serializers.BooleanField()
    origin = serializers.CharField()
    status = serializers.CharField()
    progress = serializers.FloatField()
    rows_total = serializers.IntegerField()
    rows_written = serializers.IntegerField()
    file_size = serializers.IntegerField()
    error = serializers.CharField(allow_blank=True)
    created_by = serializers.CharField(source="created_by.username", allow_null=True)
    created_at = serializers.DateTimeField()
    finished_at = serializers.DateTimeField(allow_null=True)
    expires_at = serializers.DateTimeField(allow_null=True)
    file_url = serializers.SerializerMethodField()

    def get_file_url(self, job) -> str | None:
        if (
            job.status != ExportJob.Status.SUCCEEDED
            or job.file_expired
            or job.origin == ExportJob.Origin.COMMAND
        ):
            return None
        return self.context["request"].build_absolute_uri(reverse("api:export_file", args=[job.pk]))


class ExportsApi(AdminApi):
    """GET lists past exports; POST starts one."""

    class InputSerializer(serializers.Serializer):
        format = serializers.ChoiceField(choices=ExportFormat.values)
        round_id = serializers.IntegerField(required=False, allow_null=True, min_value=1)
        include_text = serializers.BooleanField(default=False)

    def get_throttles(self) -> list[BaseThrottle]:
        return [ExpensiveThrottle()] if self.request.method == "POST" else []

    @extend_schema(parameters=[ListParams], responses=paginated(ExportOutput))
    def get(self, request):
        self.params(ListParams)
        jobs = export_jobs_recent(limit=500)
        return self.page(jobs, ExportOutput, context={"request": request})

    @extend_schema(request=InputSerializer, responses={202: ExportOutput})
    def post(self, request):
        data = self.body(self.InputSerializer)
        job = export_job_create(
            actor=request.user,
            fmt=data["format"],
            round_id=data.get("round_id"),
            include_text=data["include_text"],
            origin=ExportJob.Origin.API,
        )
        tasks.export_job_enqueue(job.pk)
        return self.ok(ExportOutput(job, context={"request": request}).data, status=202)


class ExportDetailApi(AdminApi):
    @extend_schema(responses=ExportOutput)
    def get(self, request, pk: int):
        job = get_or_404(ExportJob.objects.select_related("round", "created_by"), pk)
        return self.ok(ExportOutput(job, context={"request": request}).data)


class _AnyAccept(BaseContentNegotiation):
    """The file answers any Accept header; errors still go out as JSON."""

    def select_parser(self, request, parsers):
        return parsers[0]

    def select_renderer(self, request, renderers, format_suffix=None):
        return renderers[0], renderers[0].media_type


class ExportFileApi(AdminApi):
    """The finished file, while it has not expired."""

    content_negotiation_class = _AnyAccept

    @extend_schema(
        responses={
            (200, media_type): OpenApiResponse(OpenApiTypes.BINARY)
            for media_type in MEDIA_TYPES.values()
        }
    )
    def get(self, request, pk: int):
        job = get_or_404(ExportJob.objects.all(), pk)
        path = export_job_file(job=job)
        if path is None:
            raise Http404("This export has no file: it is not finished, or it expired.")
        return FileResponse(
            path.open("rb"),
            as_attachment=True,
            filename=job.filename,
            content_type=MEDIA_TYPES[job.format],
        )
