"""GET /api/v1/rounds/{id}/estimates and friends: the dashboard's figures as JSON.

GET /api/v1/rounds/{id}/estimates              layers, headline, breakdowns, disparity, validation
    layers.served.frr, layers.model.trr, ...: estimate, lower, upper, n, events, df, deff, flags
    (and note, too_few, variance, n_eff, strata); breakdown rows carry the same "layers".
GET /api/v1/rounds/{id}/estimates/consistency  cross-surface consistency groups
GET /api/v1/estimates?start=YYYY-MM-DD&end=... the same for a period across rounds
GET /api/v1/estimates/trend?granularity=round|week
"""

from django.shortcuts import get_object_or_404
from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.permissions import IsAuthenticated
from rest_framework.response import Response
from rest_framework.views import APIView

from auditcore.selectors import estimates as sel
from auditcore.selectors.consistency import surface_consistency
from reviewapp.api.common import FiniteFloatField
from reviewapp.api.permissions import MayReadResults


class RateEstimateOutput(serializers.Serializer):
    """One rate with its interval; non-finite numbers go out as null."""

    estimate = FiniteFloatField()
    lower = FiniteFloatField()
    upper = FiniteFloatField()
    variance = FiniteFloatField()
    n = serializers.IntegerField()
    n_eff = FiniteFloatField()
    df = serializers.IntegerField()
    deff = FiniteFloatField()
    events = serializers.IntegerField()
    strata = serializers.IntegerField()
    unreliable = serializers.BooleanField()
    flags = serializers.ListField(child=serializers.CharField())
    note = serializers.CharField()
    too_few = serializers.BooleanField()


def _layers_field(**kwargs) -> serializers.DictField:
    """layer ("served", "model") -> rate ("frr", "trr", ...) -> estimate."""
    return serializers.DictField(child=serializers.DictField(child=RateEstimateOutput()), **kwargs)


class RoundRefOutput(serializers.Serializer):
    id = serializers.IntegerField(source="pk")
    name = serializers.CharField()


class EstimatesScopeOutput(serializers.Serializer):
    """The rounds pooled, and the rounds left out because their frames meet a pooled one's."""

    rounds = RoundRefOutput(many=True)
    skipped = RoundRefOutput(many=True)
    start = serializers.DateField(allow_null=True)
    end = serializers.DateField(allow_null=True)


class PopulationOutput(serializers.Serializer):
    interactions = serializers.IntegerField()
    refused = serializers.IntegerField()
    share = FiniteFloatField()


class CollapsedOutput(serializers.Serializer):
    stratum = serializers.CharField()
    into = serializers.CharField(allow_null=True)


class HeadlineOutput(serializers.Serializer):
    population = PopulationOutput()
    model_refused_share = RateEstimateOutput()
    served_refused_share = RateEstimateOutput()
    gateway_added_share = RateEstimateOutput()
    layers = _layers_field()
    impact_frr = serializers.DictField(child=RateEstimateOutput())
    sampled = serializers.IntegerField()
    respondents = serializers.IntegerField()
    unsure = serializers.IntegerField()
    pending = serializers.IntegerField()
    gold = serializers.IntegerField()
    unobserved_model = serializers.IntegerField()
    unobserved_served = serializers.IntegerField()
    disputed = serializers.IntegerField()
    collapsed = CollapsedOutput(many=True)
    completed = FiniteFloatField()


class BreakdownRowOutput(serializers.Serializer):
    value = serializers.CharField()
    sampled = serializers.IntegerField()
    respondents = serializers.IntegerField()
    unsure = serializers.IntegerField()
    layers = _layers_field()
    gateway_added = RateEstimateOutput()


class DisparityRowOutput(serializers.Serializer):
    segment = serializers.CharField()
    respondents = serializers.IntegerField()
    others_respondents = serializers.IntegerField()
    events = serializers.IntegerField()
    comparable = serializers.BooleanField()
    note = serializers.CharField()
    rate = RateEstimateOutput()
    adjusted_rate = RateEstimateOutput()
    others_adjusted_rate = RateEstimateOutput()
    ratio = FiniteFloatField()
    ratio_lower = FiniteFloatField()
    ratio_upper = FiniteFloatField()
    difference = FiniteFloatField()
    difference_lower = FiniteFloatField()
    difference_upper = FiniteFloatField()
    p_value = FiniteFloatField()
    p_holm = FiniteFloatField()
    flagged = serializers.BooleanField()
    categories_used = serializers.IntegerField()


class ValidationRowOutput(serializers.Serializer):
    category = serializers.CharField()
    classifier_label = serializers.CharField()
    model_version = serializers.CharField()
    observed = serializers.IntegerField()
    exact_matches = serializers.IntegerField()
    refusal_matches = serializers.IntegerField()
    confusion = serializers.DictField(child=serializers.IntegerField())
    exact_agreement = FiniteFloatField()
    refusal_agreement = FiniteFloatField()
    drifting = serializers.BooleanField()


class EstimatesOutput(serializers.Serializer):
    """A round's or a period's figures: the headline's layers first, then everything else."""

    layers = _layers_field(source="headline.layers")
    scope = EstimatesScopeOutput()
    headline = HeadlineOutput()
    breakdowns = serializers.DictField(child=serializers.ListField(child=BreakdownRowOutput()))
    disparity = DisparityRowOutput(many=True)
    validation = ValidationRowOutput(many=True)
    layer = serializers.ChoiceField(choices=list(sel.LAYERS))


class SurfaceCellOutput(serializers.Serializer):
    surface = serializers.CharField()
    refused = serializers.IntegerField()
    helped = serializers.IntegerField()
    refused_example = serializers.IntegerField(allow_null=True)
    helped_example = serializers.IntegerField(allow_null=True)


class ConsistencyGroupOutput(serializers.Serializer):
    kind = serializers.ChoiceField(choices=["same", "near"])
    prompt = serializers.CharField()
    variants = serializers.IntegerField()
    interactions = serializers.IntegerField()
    surfaces = SurfaceCellOutput(many=True)


class TrendPointOutput(serializers.Serializer):
    period = serializers.CharField()
    start = serializers.DateField()
    model_version = serializers.CharField()
    layers = _layers_field()


class LayerParams(serializers.Serializer):
    """?layer=served (default) or model: the layer of disparity, validation and the counts."""

    layer = serializers.ChoiceField(choices=list(sel.LAYERS), default="served")


def _layer(request) -> str:
    params = LayerParams(data=request.query_params)
    params.is_valid(raise_exception=True)
    return params.validated_data["layer"]


class RoundEstimatesApi(APIView):
    permission_classes = [IsAuthenticated, MayReadResults]

    @extend_schema(parameters=[LayerParams], responses=EstimatesOutput)
    def get(self, request, pk: int):
        audit_round = get_object_or_404(sel.reportable_rounds(), pk=pk)
        figures = sel.dashboard_figures(scope=sel.round_scope(audit_round), layer=_layer(request))
        return Response(EstimatesOutput(figures.estimates).data)


class RoundConsistencyApi(APIView):
    permission_classes = [IsAuthenticated, MayReadResults]

    class OutputSerializer(serializers.Serializer):
        groups = ConsistencyGroupOutput(many=True)
        candidates = serializers.IntegerField()
        capped = serializers.BooleanField()

    @extend_schema(parameters=[LayerParams], responses=OutputSerializer)
    def get(self, request, pk: int):
        audit_round = get_object_or_404(sel.reportable_rounds(), pk=pk)
        start, end = audit_round.period_start, audit_round.period_end
        report = surface_consistency(start, end, _layer(request))
        return Response(self.OutputSerializer(report).data)


class PeriodEstimatesApi(APIView):
    permission_classes = [IsAuthenticated, MayReadResults]

    class InputSerializer(LayerParams):
        start = serializers.DateField()
        end = serializers.DateField()

        def validate(self, attrs):
            if attrs["start"] > attrs["end"]:
                raise serializers.ValidationError({"end": "must not be before start"})
            return attrs

    @extend_schema(parameters=[InputSerializer], responses=EstimatesOutput)
    def get(self, request):
        params = self.InputSerializer(data=request.query_params)
        params.is_valid(raise_exception=True)
        data = params.validated_data
        scope = sel.period_scope(data["start"], data["end"])
        figures = sel.dashboard_figures(scope=scope, layer=data["layer"])
        return Response(EstimatesOutput(figures.estimates).data)


class TrendApi(APIView):
    permission_classes = [IsAuthenticated, MayReadResults]

    class InputSerializer(serializers.Serializer):
        granularity = serializers.ChoiceField(choices=["round", "week"], default="round")

    class OutputSerializer(serializers.Serializer):
        points = TrendPointOutput(many=True)

    @extend_schema(parameters=[InputSerializer], responses=OutputSerializer)
    def get(self, request):
        params = self.InputSerializer(data=request.query_params)
        params.is_valid(raise_exception=True)
        points = sel.trend(params.validated_data["granularity"])
        return Response(self.OutputSerializer({"points": points}).data)
