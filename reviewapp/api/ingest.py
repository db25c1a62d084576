"""POST /api/v1/interactions: a batch of production records pushed with a token."""

from drf_spectacular.utils import OpenApiExample, extend_schema_field, extend_schema_serializer
from rest_framework import serializers, status
from rest_framework.permissions import IsAuthenticated
from rest_framework.response import Response
from rest_framework.throttling import UserRateThrottle
from rest_framework.views import APIView

from auditcore.ingest.validation import (
    GATEWAY_ACTIONS,
    MAX_ID_CHARS,
    MAX_LABEL_CHARS,
    MAX_TEXT_CHARS,
    MAX_TURN_NUMBER,
    MAX_TURNS,
    MESSAGE_ROLES,
)
from auditcore.services.ingest import MAX_PUSH_RECORDS, ingest_records_push
from reviewapp.api.permissions import IsSafetyLead
from reviewapp.views.ingest import FIELD_HELP, SAMPLE_RECORDS

# --- The record's schema. Documentation only: the ingest validator checks each record and
# quarantines a bad one with its field and reason instead of failing the whole batch, so the
# request is parsed as plain JSON. Descriptions and required flags come from FIELD_HELP (the
# upload page's table, kept equal to the validator's fields by a test), the limits from the
# validator's constants.


def _record_field(name: str, field: type[serializers.Field], **kwargs) -> serializers.Field:
    when, text = FIELD_HELP[name]
    return field(help_text=f"{text} ({when})", required=when == "required", **kwargs)


@extend_schema_field(
    {"oneOf": [{"type": "string", "maxLength": MAX_ID_CHARS}, {"type": "integer"}]}
)
class _IdField(serializers.JSONField):
    pass


@extend_schema_field(
    {
        "oneOf": [
            {"type": "string", "format": "date-time"},
            {"type": "number", "description": "seconds since the epoch"},
        ]
    }
)
class _TimestampField(serializers.JSONField):
    pass


class IngestRecordMessageSerializer(serializers.Serializer):
    role = serializers.ChoiceField(choices=sorted(MESSAGE_ROLES))
    content = serializers.CharField(
        allow_blank=True,
        max_length=MAX_TEXT_CHARS,
        help_text="The turn's text (OpenAI's array of text parts is accepted too).",
    )


@extend_schema_field(
    {
        "oneOf": [
            {"type": "string", "maxLength": MAX_ID_CHARS, "description": "The user's id."},
            {
                "type": "object",
                "properties": {
                    "id": {"type": "string", "maxLength": MAX_ID_CHARS},
                    "segment": {
                        "type": "string",
                        "maxLength": MAX_LABEL_CHARS,
                        "description": 'A user group; "unknown" when not given.',
                    },
                    "weight": {
                        "type": "number",
                        "minimum": 0,
                        "exclusiveMinimum": True,
                        "default": 1.0,
                        "description": "The impact weight.",
                    },
                },
            },
        ]
    }
)
class _UserField(serializers.JSONField):
    pass


class IngestRecordSerializer(serializers.Serializer):
    """One assistant turn of production traffic. Give ``messages`` or ``prompt`` (or both, the
    prompt equal to the last user turn); fields not listed here are kept in ``metadata``."""

    id = _record_field("id", _IdField)
    timestamp = _record_field("timestamp", _TimestampField)
    surface = _record_field("surface", serializers.CharField, max_length=MAX_LABEL_CHARS)
    model = _record_field("model", serializers.CharField, max_length=MAX_LABEL_CHARS)
    messages = _record_field(
        "messages",
        serializers.ListField,
        child=IngestRecordMessageSerializer(),
        max_length=MAX_TURNS,
    )
    prompt = _record_field("prompt", serializers.CharField, max_length=MAX_TEXT_CHARS)
    response = _record_field(
        "response", serializers.CharField, allow_blank=True, max_length=MAX_TEXT_CHARS
    )
    served_response = _record_field(
        "served_response",
        serializers.CharField,
        allow_blank=True,
        allow_null=True,
        max_length=MAX_TEXT_CHARS,
    )
    gateway_action = _record_field(
        "gateway_action", serializers.ChoiceField, choices=sorted(GATEWAY_ACTIONS), default="none"
    )
    user = _record_field("user", _UserField)
    session_importance = _record_field(
        "session_importance", serializers.FloatField, min_value=0, default=1.0
    )
    conversation_id = _record_field(
        "conversation_id", serializers.CharField, allow_blank=True, max_length=MAX_ID_CHARS
    )
    turn = _record_field("turn", serializers.IntegerField, min_value=1, max_value=MAX_TURN_NUMBER)
    metadata = _record_field("metadata", serializers.DictField)


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
