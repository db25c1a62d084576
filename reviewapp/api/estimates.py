"""GET /api/v1/rounds/{id}/estimates and friends: the dashboard's figures as JSON.

GET /api/v1/rounds/{id}/estimates              layers, headline, breakdowns, disparity, validation
    layers.served.frr, layers.model.trr, ...: estimate, lower, upper, n, events, df, deff, flags
    (and note, too_few, variance, n_eff, strata); breakdown rows carry the same "layers".
GET /api/v1/rounds/{id}/estimates/consistency  cross-surface consistency groups
GET /api/v1/estimates?start=YYYY-MM-DD&end=... the same for a period across rounds
GET /api/v1/estimates/trend?granularity=round|week
"""

import dataclasses
import datetime as dt
import math

from django.shortcuts import get_object_or_404
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.permissions import IsAuthenticated
from rest_framework.response import Response
from rest_framework.views import APIView

from auditcore.selectors import estimates as sel
from auditcore.selectors.consistency import surface_consistency
from auditcore.stats import RateEstimate
from reviewapp.api.permissions import MayReadResults


def plain(value):
    """Dataclasses to dicts, non-finite floats to null, dates to ISO strings, rounds to refs."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        if isinstance(value, sel.Scope):
            return {
                "rounds": [{"id": r.pk, "name": r.name} for r in value.rounds],
                "skipped": [{"id": r.pk, "name": r.name} for r in value.skipped],
                "start": plain(value.start),
                "end": plain(value.end),
            }
        out = {
            f.name: plain(getattr(value, f.name))
            for f in dataclasses.fields(value)
            if f.name not in ("rows_by_round", "strata_by_round")
        }
        if isinstance(value, RateEstimate):
            out["too_few"] = value.too_few
        if isinstance(value, sel.Headline):
            out["completed"] = plain(value.completed)
        if isinstance(value, sel.Estimates):
            out = {"layers": out["headline"]["layers"], **out}
        if isinstance(value, sel.ValidationRow):
            out["exact_agreement"] = value.exact_agreement
            out["refusal_agreement"] = value.refusal_agreement
            out["drifting"] = value.drifting
        return out
    if isinstance(value, dict):
        return {str(k): plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [plain(v) for v in value]
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dt.date):
        return value.isoformat()
    return value


class LayerParams(serializers.Serializer):
    """?layer=served (default) or model: the layer of disparity, validation and the counts."""

    layer = serializers.ChoiceField(choices=list(sel.LAYERS), default="served")


def _layer(request) -> str:
    params = LayerParams(data=request.query_params)
    params.is_valid(raise_exception=True)
    return params.validated_data["layer"]


class RoundEstimatesApi(APIView):
    permission_classes = [IsAuthenticated, MayReadResults]

    # The figures are nested dataclasses turned into plain JSON (see `plain`).
    @extend_schema(parameters=[LayerParams], responses=OpenApiTypes.OBJECT)
    def get(self, request, pk: int):
        audit_round = get_object_or_404(sel.reportable_rounds(), pk=pk)
        return Response(plain(sel.round_estimates(audit_round, _layer(request))))


class RoundConsistencyApi(APIView):
    permission_classes = [IsAuthenticated, MayReadResults]

    @extend_schema(parameters=[LayerParams], responses=OpenApiTypes.OBJECT)
    def get(self, request, pk: int):
        audit_round = get_object_or_404(sel.reportable_rounds(), pk=pk)
        start, end = audit_round.period_start, audit_round.period_end
        return Response(plain(surface_consistency(start, end, _layer(request))))


class PeriodEstimatesApi(APIView):
    permission_classes = [IsAuthenticated, MayReadResults]

    class InputSerializer(LayerParams):
        start = serializers.DateField()
        end = serializers.DateField()

        def validate(self, attrs):
            if attrs["start"] > attrs["end"]:
                raise serializers.ValidationError({"end": "must not be before start"})
            return attrs

    @extend_schema(parameters=[InputSerializer], responses=OpenApiTypes.OBJECT)
    def get(self, request):
        params = self.InputSerializer(data=request.query_params)
        params.is_valid(raise_exception=True)
        data = params.validated_data
        scope = sel.period_scope(data["start"], data["end"])
        return Response(plain(sel.scope_estimates(scope, data["layer"])))


class TrendApi(APIView):
    permission_classes = [IsAuthenticated, MayReadResults]

    class InputSerializer(serializers.Serializer):
        granularity = serializers.ChoiceField(choices=["round", "week"], default="round")

    @extend_schema(parameters=[InputSerializer], responses=OpenApiTypes.OBJECT)
    def get(self, request):
        params = self.InputSerializer(data=request.query_params)
        params.is_valid(raise_exception=True)
        return Response({"points": plain(sel.trend(params.validated_data["granularity"]))})
