"""POST /api/v1/interactions: a batch of production records pushed with a token."""

from typing import Any

from drf_spectacular.utils import OpenApiExample, extend_schema_field, extend_schema_serializer
from rest_framework import serializers, status
from rest_framework.permissions import IsAuthenticated
from rest_framework.response import Response
from rest_framework.throttling import UserRateThrottle
from rest_framework.views import APIView

from auditcore.ingest.fields import RECORD_FIELDS, RecordField
from auditcore.services.ingest import MAX_PUSH_RECORDS, ingest_records_push
from reviewapp.api.permissions import IsSafetyLead
from reviewapp.views.ingest import SAMPLE_RECORDS

# --- The record's schema, derived from the one field list (auditcore/ingest/fields.py).
# Documentation only: the ingest validator checks each record and quarantines a bad one with
# its field and reason instead of failing the whole batch, so the request is parsed as plain JSON.


def openapi_30(schema: Any) -> Any:
    """A JSON Schema (2020-12) fragment as OpenAPI 3.0 writes it: a null alternative becomes
    ``nullable``, a numeric ``exclusiveMinimum`` a ``minimum`` marked exclusive."""
    if isinstance(schema, list):
        return [openapi_30(part) for part in schema]
    if not isinstance(schema, dict):
        return schema
    out = {key: openapi_30(value) for key, value in schema.items()}
    if isinstance(out.get("exclusiveMinimum"), int | float) and not isinstance(
        out["exclusiveMinimum"], bool
    ):
        out["minimum"], out["exclusiveMinimum"] = out["exclusiveMinimum"], True
    if "oneOf" in out and {"type": "null"} in out["oneOf"]:
        rest = [part for part in out.pop("oneOf") if part != {"type": "null"}]
        out.update(rest[0] if len(rest) == 1 else {"oneOf": rest})
        out["nullable"] = True
    return out


def _documented(field: RecordField) -> serializers.Field:
    """A field that takes any JSON and documents the record field's type, limits and meaning."""
    typed = extend_schema_field(openapi_30(field.schema))(
        type(f"{field.name.title().replace('_', '')}Field", (serializers.JSONField,), {})
    )
    requirement = "" if field.required else f" ({field.requirement})"
    return typed(help_text=field.description + requirement, required=field.required)


IngestRecordSerializer = type(
    "IngestRecordSerializer",
    (serializers.Serializer,),
    {
        "__doc__": "One assistant turn of production traffic. Give ``messages`` or ``prompt`` "
        "(or both, the prompt equal to the last user turn); fields not listed here are kept in "
        "``metadata``.",
        "__module__": __name__,
        **{field.name: _documented(field) for field in RECORD_FIELDS},
    },
)


@extend_schema_field(IngestRecordSerializer)
class _RecordField(serializers.JSONField):
    """Any JSON at parse time; IngestRecordSerializer documents it (see the note above)."""


class IngestPushThrottle(UserRateThrottle):
    scope = "ingest_push"


class InteractionPushApi(APIView):
    permission_classes = [IsAuthenticated, IsSafetyLead]
    throttle_classes = [IngestPushThrottle]

    @extend_schema_serializer(
        examples=[
            OpenApiExample(
                "Two records",
                value={"source": "support-chat", "records": SAMPLE_RECORDS},
                request_only=True,
            )
        ]
    )
    class InputSerializer(serializers.Serializer):
        source = serializers.CharField(max_length=100, default="default")
        records = serializers.ListField(
            child=_RecordField(),
            allow_empty=False,
            max_length=MAX_PUSH_RECORDS,
            help_text="The records; each is checked on its own, and one that fails is "
            "quarantined with the field and the reason (see errors) while the rest are stored.",
        )

    class ErrorSerializer(serializers.Serializer):
        index = serializers.IntegerField()
        field = serializers.CharField()
        reason = serializers.CharField()

    class OutputSerializer(serializers.Serializer):
        job = serializers.IntegerField(source="job.pk")
        received = serializers.IntegerField(source="job.received")
        inserted = serializers.IntegerField(source="job.inserted")
        duplicates = serializers.IntegerField(source="job.duplicates")
        rejected = serializers.IntegerField(source="job.rejected")
        errors = serializers.ListField(child=serializers.DictField())

    def post(self, request):
        data = self.InputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        result = ingest_records_push(
            records=data.validated_data["records"],
            source=data.validated_data["source"],
            actor=request.user,
        )
        body = self.OutputSerializer(
            {
                "job": result.job,
                "errors": [self.ErrorSerializer(e).data for e in result.errors],
            }
        ).data
        return Response(body, status=status.HTTP_200_OK)
