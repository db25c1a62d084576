"""Reads for the leads' item browser: search over prompts and filters, newest first.

Safety leads only: rows carry the model's labels and the item's verdict state.
"""

from dataclasses import dataclass

from django.contrib.postgres.search import SearchQuery, SearchVector
from django.db import connection
from django.db.models import Count, Q, QuerySet

from auditcore.models import RoundItem, Verdict

PAGE_SIZE = 50
SORTS = {
    "newest": ("-pk",),
    "oldest": ("pk",),
    "round": ("round__name", "pk"),
    "category": ("interaction__category", "pk"),
}


@dataclass(frozen=True)
class BrowseFilters:
    q: str = ""
    round_id: int | None = None
    category: str = ""
    surface: str = ""
    status: str = ""
    response_label: str = ""
    observed_label: str = ""
    disagreement: bool = False
    reviewer_id: int | None = None
    sort: str = "newest"


def _search(items: QuerySet[RoundItem], q: str) -> QuerySet[RoundItem]:
    """Full-text search on PostgreSQL (words, "phrases", -exclusions); a substring elsewhere."""
    if connection.vendor == "postgresql":
        return items.annotate(found=SearchVector("interaction__prompt", config="simple")).filter(
            found=SearchQuery(q, config="simple", search_type="websearch")
        )
    return items.filter(interaction__prompt__icontains=q)


def browse_items(filters: BrowseFilters) -> QuerySet[RoundItem]:
    items = RoundItem.objects.all()
    if filters.q:
        items = _search(items, filters.q)
    if filters.round_id is not None:
        items = items.filter(round_id=filters.round_id)
    if filters.category:
        items = items.filter(interaction__category=filters.category)
    if filters.surface:
        items = items.filter(interaction__surface__name=filters.surface)
    if filters.status:
        items = items.filter(status=filters.status)
    if filters.response_label:
        items = items.filter(interaction__response_label=filters.response_label)
    if filters.observed_label:
        items = items.filter(observed_label=filters.observed_label)
    if filters.reviewer_id is not None:
        items = items.filter(
            pk__in=Verdict.objects.filter(reviewer_id=filters.reviewer_id).values("item_id")
        )
    if filters.disagreement:
        items = items.annotate(
            kinds=Count("verdicts__decision", filter=Q(verdicts__superseded=False), distinct=True)
        ).filter(kinds__gt=1)
    return (
        items.select_related("round", "interaction__surface")
        .only(
            "pk",
            "status",
            "final_decision",
            "observed_label",
            "verdict_count",
            "required_reviews",
            "round__name",
            "interaction__prompt",
            "interaction__category",
            "interaction__response_label",
            "interaction__surface__name",
        )
        .order_by(*SORTS.get(filters.sort, SORTS["newest"]))
    )
