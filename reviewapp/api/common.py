"""Shared pieces of the API: the base view, pagination, ordering and number fields."""

import math
from typing import Any

from django.db.models import QuerySet
from django.shortcuts import get_object_or_404
from rest_framework import serializers
from rest_framework.pagination import LimitOffsetPagination
from rest_framework.permissions import IsAuthenticated
from rest_framework.response import Response
from rest_framework.throttling import UserRateThrottle
from rest_framework.views import APIView

from reviewapp.api.permissions import IsAdmin, IsReviewer, IsSafetyLead, MayReadResults


class ExpensiveThrottle(UserRateThrottle):
    """For endpoints that scan a lot of data or start background work."""

    scope = "api_expensive"


class Pagination(LimitOffsetPagination):
    default_limit = 50
    max_limit = 500


class ListParams(serializers.Serializer):
    """Query parameters every list has; views extend it with their filters and ordering."""

    limit = serializers.IntegerField(required=False, min_value=1, max_value=Pagination.max_limit)
    offset = serializers.IntegerField(required=False, min_value=0)


def ordering_field(*fields: str, default: str) -> serializers.ChoiceField:
    choices = [f for name in fields for f in (name, f"-{name}")]
    return serializers.ChoiceField(choices=choices, default=default, required=False)


class FiniteFloatField(serializers.FloatField):
    """Infinity and NaN are not JSON: they go out as null."""

    def __init__(self, **kwargs):
        kwargs.setdefault("allow_null", True)
        super().__init__(**kwargs)

    def to_representation(self, value):
        value = super().to_representation(value)
        return value if math.isfinite(value) else None


_PAGINATED: dict[type, type] = {}


def paginated(serializer_class: type[serializers.Serializer]) -> type[serializers.Serializer]:
    """The envelope a list answers with, for the schema."""
    if serializer_class not in _PAGINATED:
        name = "Paginated" + serializer_class.__qualname__.replace(".", "").replace("Api", "", 1)
        _PAGINATED[serializer_class] = type(
            name,
            (serializers.Serializer,),
            {
                "count": serializers.IntegerField(),
                "next": serializers.URLField(allow_null=True),
                "previous": serializers.URLField(allow_null=True),
                "results": serializer_class(many=True),
            },
        )
    return _PAGINATED[serializer_class]


class Api(APIView):
    """Base of every endpoint: authenticated, with a role set by subclasses."""

    permission_classes = [IsAuthenticated]

    def params(self, serializer_class: type[serializers.Serializer]) -> dict[str, Any]:
        params = serializer_class(data=self.request.query_params)
        params.is_valid(raise_exception=True)
        return params.validated_data

    def body(self, serializer_class: type[serializers.Serializer]) -> dict[str, Any]:
        data = serializer_class(data=self.request.data)
        data.is_valid(raise_exception=True)
        return data.validated_data

    def ok(self, data: Any, status: int = 200) -> Response:
        return Response(data, status=status)

    def page(
        self,
        queryset: QuerySet | list,
        serializer_class: type[serializers.Serializer],
        context: dict | None = None,
    ) -> Response:
        paginator = Pagination()
        page = paginator.paginate_queryset(queryset, self.request, view=self)
        data = serializer_class(page, many=True, context=context or {}).data
        return paginator.get_paginated_response(data)


class ReviewerApi(Api):
    permission_classes = [IsAuthenticated, IsReviewer]


class SafetyLeadApi(Api):
    permission_classes = [IsAuthenticated, IsSafetyLead]


class ResultsReaderApi(Api):
    """Read-only results (gate decisions): viewers too."""

    permission_classes = [IsAuthenticated, MayReadResults]


class AdminApi(Api):
    permission_classes = [IsAuthenticated, IsAdmin]


def get_or_404(queryset: QuerySet, pk: int):
    return get_object_or_404(queryset, pk=pk)
