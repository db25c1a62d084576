"""Audit rounds: list, detail, the allocation preview and starting the draw (safety leads)."""

from django.db.models import Prefetch
from drf_spectacular.utils import extend_schema
from rest_framework import serializers

from auditcore import tasks
from auditcore.exceptions import ApplicationError
from auditcore.models import AuditRound, ModelVersion, RoundTemplate, Surface
from auditcore.selectors.rounds import round_list, round_plan
from auditcore.services.rounds import round_draw_request, round_open_last_week
from reviewapp.api.common import (
    ExpensiveThrottle,
    FiniteFloatField,
    ListParams,
    SafetyLeadApi,
    get_or_404,
    ordering_field,
    paginated,
)


class RoundOutput(serializers.Serializer):
    id = serializers.IntegerField()
    name = serializers.CharField()
    status = serializers.CharField()
    policy_version_id = serializers.IntegerField()
    policy_version = serializers.CharField(source="policy_version.__str__")
    period_start = serializers.DateField()
    period_end = serializers.DateField()
    surfaces = serializers.SerializerMethodField()
    model_versions = serializers.SerializerMethodField()
    size_measure = serializers.CharField()
    double_review_share = serializers.FloatField()
    gold_rate = serializers.FloatField()
    budget = serializers.IntegerField()
    supplement_of = serializers.IntegerField(source="supplement_of_id", allow_null=True)
    item_count = serializers.IntegerField()
    draw_progress = serializers.FloatField()
    draw_error = serializers.CharField(allow_blank=True)
    created_at = serializers.DateTimeField()
    drawn_at = serializers.DateTimeField(allow_null=True)
    closed_at = serializers.DateTimeField(allow_null=True)

    def get_surfaces(self, audit_round) -> list[str]:
        return [s.name for s in audit_round.surfaces.all()]

    def get_model_versions(self, audit_round) -> list[str]:
        return [m.name for m in audit_round.model_versions.all()]


def _rounds():
    return round_list().prefetch_related(
        Prefetch("surfaces", queryset=Surface.objects.only("name")),
        Prefetch("model_versions", queryset=ModelVersion.objects.only("name")),
    )


class RoundListApi(SafetyLeadApi):
    """List rounds; POST opens the round over last week (the weekly routine), once per week."""

    class FilterSerializer(ListParams):
        status = serializers.ChoiceField(choices=AuditRound.Status.values, required=False)
        ordering = ordering_field("created_at", "name", "period_start", default="-created_at")

    @extend_schema(parameters=[FilterSerializer], responses=paginated(RoundOutput))
    def get(self, request):
        p = self.params(self.FilterSerializer)
        rounds = _rounds()
        if "status" in p:
            rounds = rounds.filter(status=p["status"])
        return self.page(rounds.order_by(p["ordering"], "-id"), RoundOutput)

    class OpenSerializer(serializers.Serializer):
        last_week = serializers.BooleanField(
            help_text="Must be true: the round covers the ISO week before today."
        )
        budget = serializers.IntegerField(min_value=1, required=False)
        template = serializers.CharField(required=False, help_text="a round template's name")

        def validate_last_week(self, value: bool) -> bool:
            if not value:
                raise serializers.ValidationError("only last week's round can be opened here")
            return value

    class OpenedOutput(serializers.Serializer):
        created = serializers.BooleanField()
        drawing = serializers.BooleanField()
        problem = serializers.CharField(allow_blank=True)
        round = RoundOutput()

    @extend_schema(request=OpenSerializer, responses={201: OpenedOutput, 200: OpenedOutput})
    def post(self, request):
        data = self.body(self.OpenSerializer)
        template = None
        if "template" in data:
            template = RoundTemplate.objects.filter(name=data["template"]).first()
            if template is None:
                raise ApplicationError(
                    f"template: no round template named {data['template']!r}",
                    {"field": "template"},
                )
        opened = round_open_last_week(
            actor=request.user, template=template, budget=data.get("budget")
        )
        tasks.round_opened_enqueue(opened)
        out = {
            "created": opened.created,
            "drawing": opened.drawing,
            "problem": opened.problem,
            "round": get_or_404(_rounds(), opened.audit_round.pk),
        }
        return self.ok(self.OpenedOutput(out).data, status=201 if opened.created else 200)


class RoundDetailApi(SafetyLeadApi):
    @extend_schema(responses=RoundOutput)
    def get(self, request, pk: int):
        return self.ok(RoundOutput(get_or_404(_rounds(), pk)).data)


class PreviewQuota(serializers.Serializer):
    category = serializers.CharField()
    outcome = serializers.CharField()
    min_items = serializers.IntegerField()
    population = serializers.IntegerField()
    planned = serializers.IntegerField()
    strata = serializers.IntegerField()
    half_width = FiniteFloatField()
    deff = FiniteFloatField()


class PreviewStratum(serializers.Serializer):
    """One planned stratum; a dimension the plan collapsed is null ("" for category/outcome)."""

    key = serializers.CharField()
    category = serializers.CharField(allow_blank=True)
    outcome = serializers.CharField(allow_blank=True)
    gateway_changed = serializers.BooleanField(allow_null=True)
    surface = serializers.CharField(allow_null=True)
    model_version = serializers.CharField(allow_null=True)
    day = serializers.DateField(allow_null=True)
    population = serializers.IntegerField()
    floor = serializers.IntegerField()
    planned = serializers.IntegerField()
    already_sampled = serializers.IntegerField()
    deff = FiniteFloatField()
    half_width = FiniteFloatField()


class RoundPreviewApi(SafetyLeadApi):
    """The allocation the draw would make with the stored quotas and budget."""

    throttle_classes = [ExpensiveThrottle]

    class OutputSerializer(serializers.Serializer):
        budget = serializers.IntegerField()
        planned_total = serializers.IntegerField()
        gold_planned = serializers.IntegerField()
        review_effort = FiniteFloatField()
        population_total = serializers.IntegerField()
        categories = serializers.ListField(child=serializers.CharField())
        dims = serializers.ListField(child=serializers.CharField())
        collapsed = serializers.ListField(child=serializers.CharField())
        fits = serializers.BooleanField()
        problem = serializers.CharField(allow_blank=True)
        warnings = serializers.ListField(child=serializers.CharField())
        deff = FiniteFloatField()
        half_width = FiniteFloatField()
        quotas = PreviewQuota(source="quota_rows", many=True)
        strata = PreviewStratum(many=True)

    @extend_schema(responses=OutputSerializer)
    def get(self, request, pk: int):
        audit_round = get_or_404(AuditRound.objects.select_related("policy_version"), pk)
        plan = round_plan(audit_round)
        return self.ok(self.OutputSerializer(plan).data)


class RoundDrawApi(SafetyLeadApi):
    """Start the draw; the round moves to drawing and a worker samples it."""

    throttle_classes = [ExpensiveThrottle]

    @extend_schema(request=None, responses={202: RoundOutput})
    def post(self, request, pk: int):
        audit_round = get_or_404(AuditRound.objects.all(), pk)
        round_draw_request(actor=request.user, audit_round=audit_round)
        tasks.round_draw_enqueue(audit_round.pk)
        return self.ok(RoundOutput(get_or_404(_rounds(), pk)).data, status=202)
