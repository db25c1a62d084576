"""POST /api/v1/interactions: a batch of production records pushed with a token."""

from rest_framework import serializers, status
from rest_framework.permissions import IsAuthenticated
from rest_framework.response import Response
from rest_framework.throttling import UserRateThrottle
from rest_framework.views import APIView

from auditcore.services.ingest import MAX_PUSH_RECORDS, ingest_records_push
from reviewapp.api.permissions import IsSafetyLead


class IngestPushThrottle(UserRateThrottle):
    scope = "ingest_push"


class InteractionPushApi(APIView):
    permission_classes = [IsAuthenticated, IsSafetyLead]
    throttle_classes = [IngestPushThrottle]

    class InputSerializer(serializers.Serializer):
        source = serializers.CharField(max_length=100, default="default")
        records = serializers.ListField(
            child=serializers.JSONField(), allow_empty=False, max_length=MAX_PUSH_RECORDS
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
