"""Small counts for the home page, read from the per-stratum table, never the big one."""

from dataclasses import dataclass

from django.db.models import Sum

from auditcore.models import IngestJob, PolicyVersion, StratumCount


@dataclass(frozen=True)
class OverviewCounts:
    interactions: int
    running_jobs: int
    published_policy: str | None


def overview_counts() -> OverviewCounts:
    interactions = StratumCount.objects.aggregate(total=Sum("count"))["total"] or 0
    running = IngestJob.objects.filter(
        status__in=[IngestJob.Status.QUEUED, IngestJob.Status.RUNNING]
    ).count()
    published = (
        PolicyVersion.objects.filter(status=PolicyVersion.Status.PUBLISHED)
        .select_related("policy")
        .order_by("-published_at")
        .first()
    )
    return OverviewCounts(
        interactions=interactions,
        running_jobs=running,
        published_policy=str(published) if published else None,
    )
