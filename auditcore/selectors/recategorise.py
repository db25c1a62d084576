"""Reads for re-categorising stored traffic: the period's interactions, what is drawn, the jobs."""

import datetime as dt

from django.db.models import Exists, Max, OuterRef, QuerySet
from django.utils import timezone

from auditcore.models import Interaction, PolicyVersion, RecategoriseJob, RoundItem

DEFAULT_PERIOD_DAYS = 30
# Gold items are written by leads with a known answer, not production traffic.
GOLD_SOURCE = "gold"


def _drawn() -> Exists:
    return Exists(RoundItem.objects.filter(interaction_id=OuterRef("pk")))


def period_interactions(start: dt.date, end: dt.date) -> QuerySet[Interaction]:
    """The period's production interactions (gold items are not traffic)."""
    return Interaction.objects.filter(day__gte=start, day__lte=end).exclude(source=GOLD_SOURCE)


def recategorise_counts(start: dt.date, end: dt.date) -> tuple[int, int]:
    """(interactions the job would classify, interactions already drawn into rounds)."""
    scope = period_interactions(start, end).annotate(drawn=_drawn())
    drawn = scope.filter(drawn=True).count()
    return scope.count() - drawn, drawn


def undrawn_chunk(start: dt.date, end: dt.date, after_pk: int, size: int) -> QuerySet[Interaction]:
    """The next `size` undrawn interactions of the period by id, with what classifying needs."""
    return (
        period_interactions(start, end)
        .filter(pk__gt=after_pk)
        .annotate(drawn=_drawn())
        .filter(drawn=False)
        .select_related("model_version")
        .only(
            "pk",
            "day",
            "surface_id",
            "model_version__name",
            "prompt",
            "earlier_turns",
            "category",
            "category_score",
            "response_label",
            "gateway_action",
            "impact_weight",
            "stratum_key",
        )
        .order_by("pk")[:size]
    )


def default_period() -> tuple[dt.date, dt.date]:
    """The last DEFAULT_PERIOD_DAYS days of stored traffic (up to today when none is stored)."""
    newest = Interaction.objects.aggregate(day=Max("day"))["day"] or timezone.now().date()
    return newest - dt.timedelta(days=DEFAULT_PERIOD_DAYS - 1), newest


def recategorise_jobs_of(version: PolicyVersion) -> QuerySet[RecategoriseJob]:
    return RecategoriseJob.objects.filter(policy_version=version).select_related("created_by")
