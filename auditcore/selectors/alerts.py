"""Reads for alerts: what the dashboard banner shows."""

from django.db.models import QuerySet

from auditcore.models import Alert

BANNER_LIMIT = 10


def alerts_active() -> QuerySet[Alert]:
    return Alert.objects.filter(dismissed=False).select_related("round")[:BANNER_LIMIT]
