"""Interactions (read; the push is in ingest.py) and ingest jobs, for roles seeing responses."""

from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.permissions import IsAuthenticated
from rest_framework.throttling import BaseThrottle

from auditcore.models import IngestJob, Interaction, Label
from reviewapp.api.common import (
    FiniteFloatField,
    ListParams,
    Pagination,
    SafetyLeadApi,
    get_or_404,
    ordering_field,
    paginated,
)
from reviewapp.api.ingest import InteractionPushApi
from reviewapp.api.permissions import IsSafetyLead


class InteractionOutput(serializers.Serializer):
    id = serializers.IntegerField()
    source = serializers.CharField()
    external_id = serializers.CharField()
    occurred_at = serializers.DateTimeField()
    day = serializers.DateField()
    surface = serializers.CharField(source="surface.name")
    model_version = serializers.CharField(source="model_version.name")
    conversation_id = serializers.CharField(allow_blank=True)
    turn = serializers.IntegerField()
    prompt = serializers.CharField(allow_blank=True)
    earlier_turns = serializers.SerializerMethodField()
    response = serializers.CharField(allow_blank=True)
    served_response = serializers.CharField(allow_null=True, allow_blank=True)
    gateway_action = serializers.CharField()
    user_segment = serializers.CharField()
    impact_weight = FiniteFloatField(allow_null=True)
    category = serializers.CharField()
    category_score = FiniteFloatField(allow_null=True)
    response_label = serializers.CharField()
    response_score = FiniteFloatField(allow_null=True)
    served_label = serializers.CharField()
    detector_version = serializers.CharField()

    def get_earlier_turns(self, obj) -> list[dict[str, str]]:
        turns = obj.earlier_turns if isinstance(obj.earlier_turns, list) else []
        return [
            {"role": str(t.get("role", "")), "content": str(t.get("content", ""))}
            for t in turns
            if isinstance(t, dict)
        ]


class InteractionsApi(InteractionPushApi):
    """GET lists interactions (safety leads and admins); POST pushes a batch (see ingest.py)."""

    permission_classes = [IsAuthenticated, IsSafetyLead]

    class FilterSerializer(ListParams):
        source = serializers.CharField(required=False, max_length=100)
        surface = serializers.CharField(required=False, max_length=100)
        model_version = serializers.CharField(required=False, max_length=100)
        category = serializers.CharField(required=False, max_length=50)
        response_label = serializers.ChoiceField(choices=Label.values, required=False)
        day_from = serializers.DateField(required=False)
        day_to = serializers.DateField(required=False)
        ordering = ordering_field("occurred_at", "id", default="-occurred_at")

    def get_throttles(self) -> list[BaseThrottle]:
        return super().get_throttles() if self.request.method == "POST" else []

    @extend_schema(parameters=[FilterSerializer], responses=paginated(InteractionOutput))
    def get(self, request):
        params = self.FilterSerializer(data=request.query_params)
        params.is_valid(raise_exception=True)
        p = params.validated_data
        interactions = Interaction.objects.select_related("surface", "model_version")
        for name, lookup in (
            ("source", "source"),
            ("surface", "surface__name"),
            ("model_version", "model_version__name"),
            ("category", "category"),
            ("response_label", "response_label"),
            ("day_from", "day__gte"),
            ("day_to", "day__lte"),
        ):
            if name in p:
                interactions = interactions.filter(**{lookup: p[name]})
        interactions = interactions.order_by(p["ordering"], "-id")
        paginator = Pagination()
        page = paginator.paginate_queryset(interactions, request, view=self)
        return paginator.get_paginated_response(InteractionOutput(page, many=True).data)

    @extend_schema(
        request=InteractionPushApi.InputSerializer, responses=InteractionPushApi.OutputSerializer
    )
    def post(self, request):
        return super().post(request)


class InteractionDetailApi(SafetyLeadApi):
    @extend_schema(responses=InteractionOutput)
    def get(self, request, pk: int):
        interaction = get_or_404(Interaction.objects.select_related("surface", "model_version"), pk)
        return self.ok(InteractionOutput(interaction).data)


class IngestJobOutput(serializers.Serializer):
    id = serializers.IntegerField()
    source = serializers.CharField()
    origin = serializers.CharField()
    format = serializers.CharField()
    detected_format = serializers.CharField(allow_blank=True)
    filename = serializers.CharField(allow_blank=True)
    status = serializers.CharField()
    progress = serializers.FloatField()
    received = serializers.IntegerField()
    inserted = serializers.IntegerField()
    duplicates = serializers.IntegerField()
    rejected = serializers.IntegerField()
    chunk_count = serializers.IntegerField(
        help_text="0 until the whole file is cut; chunks already run meanwhile"
    )
    chunks_done = serializers.IntegerField()
    error = serializers.CharField(allow_blank=True)
    created_at = serializers.DateTimeField()
    started_at = serializers.DateTimeField(allow_null=True)
    finished_at = serializers.DateTimeField(allow_null=True)


class IngestJobListApi(SafetyLeadApi):
    class FilterSerializer(ListParams):
        status = serializers.ChoiceField(choices=IngestJob.Status.values, required=False)
        ordering = ordering_field("created_at", "id", default="-created_at")

    @extend_schema(parameters=[FilterSerializer], responses=paginated(IngestJobOutput))
    def get(self, request):
        p = self.params(self.FilterSerializer)
        jobs = IngestJob.objects.all()
        if "status" in p:
            jobs = jobs.filter(status=p["status"])
        return self.page(jobs.order_by(p["ordering"], "-id"), IngestJobOutput)


class IngestJobDetailApi(SafetyLeadApi):
    @extend_schema(responses=IngestJobOutput)
    def get(self, request, pk: int):
        return self.ok(IngestJobOutput(get_or_404(IngestJob.objects.all(), pk)).data)
