"""Reads for the leads' browser over all stored interactions (ingested traffic, drawn or not):
full-text search over prompts, filters at both layers and on the items drawn from them, sorting.

Safety leads only: rows carry the model's labels and the items' verdict state.
"""

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass

from django.contrib.postgres.search import SearchQuery, SearchVector, SearchVectorField
from django.db import connection
from django.db.models import Count, Exists, OuterRef, Q, QuerySet
from django.db.models.expressions import RawSQL

from auditcore.models import Interaction, RoundItem, Verdict

PAGE_SIZE = 50
# PostgreSQL keeps to_tsvector(SEARCH_CONFIG, prompt) in this GIN-indexed column (migration
# 0018 says why a column and not an expression index), filled after ingest by
# services.search_index (migration 0020); NULL until then. Django does not model it.
SEARCH_CONFIG = "simple"
SEARCH_COLUMN = "prompt_search"
SORTS = {
    "newest": ("-pk",),
    "oldest": ("pk",),
    "occurred": ("-occurred_at", "-pk"),
    "category": ("category", "-pk"),
}
# Verdict state of an interaction: never drawn, or the state of an item drawn from it.
UNDRAWN = "undrawn"


@dataclass(frozen=True)
class BrowseFilters:
    q: str = ""
    category: str = ""
    surface: str = ""
    segment: str = ""
    response_label: str = ""
    served_label: str = ""
    gateway_action: str = ""
    # On the items drawn from the interaction: all that are set hold for one item.
    round_id: int | None = None
    status: str = ""
    observed_label: str = ""
    observed_served_label: str = ""
    disagreement: bool = False
    reviewer_id: int | None = None
    sort: str = "newest"

    @property
    def item_filters(self) -> bool:
        return bool(
            self.round_id is not None
            or (self.status and self.status != UNDRAWN)
            or self.observed_label
            or self.observed_served_label
            or self.disagreement
            or self.reviewer_id is not None
        )


def _search(rows: QuerySet[Interaction], q: str) -> QuerySet[Interaction]:
    """Full-text search on PostgreSQL (words, "phrases", -exclusions); a substring elsewhere.

    Rows whose vector is filled match through the GIN index; the few stored since the indexer
    last ran (found through the partial index on the NULLs) have theirs computed here, so the
    same rows match whether indexed or not."""
    if connection.vendor == "postgresql":
        column = RawSQL(  # noqa: S611 - fixed identifiers, no input
            f"{connection.ops.quote_name(Interaction._meta.db_table)}.{SEARCH_COLUMN}",
            (),
            output_field=SearchVectorField(),
        )
        query = SearchQuery(q, config=SEARCH_CONFIG, search_type="websearch")
        return rows.alias(
            indexed=column, computed=SearchVector("prompt", config=SEARCH_CONFIG)
        ).filter(Q(indexed=query) | (Q(indexed__isnull=True) & Q(computed=query)))
    return rows.filter(prompt__icontains=q)


def interactions_awaiting_search_index() -> int:
    """Interactions whose search vector the indexer has not filled yet (PostgreSQL; read
    through the partial index on the NULLs)."""
    if connection.vendor != "postgresql":
        return 0
    table = connection.ops.quote_name(Interaction._meta.db_table)
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT count(*) FROM {table} WHERE {SEARCH_COLUMN} IS NULL")  # noqa: S608
        return cursor.fetchone()[0]


def _matching_items(filters: BrowseFilters) -> QuerySet[RoundItem]:
    items = RoundItem.objects.filter(interaction_id=OuterRef("pk"))
    if filters.round_id is not None:
        items = items.filter(round_id=filters.round_id)
    if filters.status and filters.status != UNDRAWN:
        items = items.filter(status=filters.status)
    if filters.observed_label:
        items = items.filter(observed_label=filters.observed_label)
    if filters.observed_served_label:
        items = items.filter(observed_served_label=filters.observed_served_label)
    if filters.reviewer_id is not None:
        items = items.filter(
            Exists(Verdict.objects.filter(item_id=OuterRef("pk"), reviewer_id=filters.reviewer_id))
        )
    if filters.disagreement:
        items = items.annotate(
            kinds=Count("verdicts__decision", filter=Q(verdicts__superseded=False), distinct=True)
        ).filter(kinds__gt=1)
    return items


def browse_interactions(filters: BrowseFilters) -> QuerySet[Interaction]:
    rows = Interaction.objects.all()
    if filters.q:
        rows = _search(rows, filters.q)
    if filters.category:
        rows = rows.filter(category=filters.category)
    if filters.surface:
        rows = rows.filter(surface__name=filters.surface)
    if filters.segment:
        rows = rows.filter(user_segment=filters.segment)
    if filters.response_label:
        rows = rows.filter(response_label=filters.response_label)
    if filters.served_label:
        rows = rows.filter(served_label=filters.served_label)
    if filters.gateway_action:
        rows = rows.filter(gateway_action=filters.gateway_action)
    if filters.item_filters:
        rows = rows.filter(Exists(_matching_items(filters)))
    if filters.status == UNDRAWN:
        rows = rows.exclude(Exists(RoundItem.objects.filter(interaction_id=OuterRef("pk"))))
    return (
        rows.select_related("surface")
        .only(
            "pk",
            "occurred_at",
            "prompt",
            "category",
            "user_segment",
            "response_label",
            "served_label",
            "gateway_action",
            "surface__name",
        )
        .order_by(*SORTS.get(filters.sort, SORTS["newest"]))
    )


@dataclass(frozen=True)
class DrawnItem:
    pk: int
    round_id: int
    round_name: str
    status: str
    status_display: str
    verdict_count: int
    required_reviews: int


def drawn_items(interaction_ids: Iterable[int]) -> dict[int, list[DrawnItem]]:
    """The items drawn from each interaction (every round), in one query."""
    items = (
        RoundItem.objects.filter(interaction_id__in=list(interaction_ids))
        .select_related("round")
        .only(
            "pk",
            "interaction_id",
            "status",
            "verdict_count",
            "required_reviews",
            "round__name",
        )
        .order_by("pk")
    )
    found: dict[int, list[DrawnItem]] = defaultdict(list)
    for item in items:
        found[item.interaction_id].append(
            DrawnItem(
                pk=item.pk,
                round_id=item.round_id,
                round_name=item.round.name,
                status=item.status,
                status_display=item.get_status_display(),
                verdict_count=item.verdict_count,
                required_reviews=item.required_reviews,
            )
        )
    return dict(found)


@dataclass(frozen=True)
class InteractionDetail:
    interaction: Interaction
    items: list[RoundItem]
    verdicts: dict[int, list[Verdict]]


def interaction_detail(pk: int) -> InteractionDetail | None:
    """One interaction with every item drawn from it and their verdicts (leads only)."""
    interaction = (
        Interaction.objects.select_related("surface", "model_version").filter(pk=pk).first()
    )
    if interaction is None:
        return None
    items = list(
        RoundItem.objects.filter(interaction=interaction)
        .select_related("round", "stratum", "policy_version__policy")
        .order_by("pk")
    )
    verdicts: dict[int, list[Verdict]] = defaultdict(list)
    for verdict in (
        Verdict.objects.filter(item__in=items)
        .select_related("reviewer")
        .order_by("locked_at", "pk")
    ):
        verdicts[verdict.item_id].append(verdict)
    return InteractionDetail(interaction=interaction, items=items, verdicts=dict(verdicts))
