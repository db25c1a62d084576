"""Prompts helped on one surface and refused on another: the cross-surface consistency report.

Reads what users were served (Interaction.served_label), or at the model layer what the model
answered (response_label), over a period; see surface_consistency.
"""

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass

from django.db import connection
from django.db.models import Count, F, Min, Q

from auditcore.consistency import near_duplicate_groups, normalise
from auditcore.models import Interaction, Label
from auditcore.rates import REFUSED

CONSISTENCY_GROUPS = 100
NEAR_REFUSED_CANDIDATES = 2000
NEAR_HELPED_CANDIDATES = 4000


@dataclass(frozen=True)
class SurfaceCell:
    surface: str
    refused: int
    helped: int
    refused_example: int | None  # interaction ids
    helped_example: int | None


@dataclass(frozen=True)
class ConsistencyGroup:
    kind: str  # "same" (equal normalised text, counted over the whole period) or "near"
    prompt: str  # one member's prompt (hostile text: escape on render)
    variants: int  # distinct normalised texts in the group
    interactions: int
    surfaces: list[SurfaceCell]


@dataclass(frozen=True)
class ConsistencyReport:
    groups: list[ConsistencyGroup]
    candidates: int  # prompts compared for near duplicates
    capped: bool


def _period(start: dt.date, end: dt.date):
    return Interaction.objects.filter(day__gte=start, day__lte=end).exclude(source="gold")


def _cells(rows: Iterable[tuple]) -> list[SurfaceCell]:
    """rows: (surface, served_label, interaction_id) -> per-surface counts and an example each."""
    acc: dict[str, dict] = {}
    for surface, label, interaction_id in rows:
        a = acc.setdefault(surface, {"refused": 0, "helped": 0, "r": None, "h": None})
        if label in REFUSED:
            a["refused"] += 1
            a["r"] = a["r"] or interaction_id
        else:
            a["helped"] += 1
            a["h"] = a["h"] or interaction_id
    return [
        SurfaceCell(s, a["refused"], a["helped"], a["r"], a["h"]) for s, a in sorted(acc.items())
    ]


def _inconsistent(cells: list[SurfaceCell]) -> bool:
    """Refused on one surface and helped on another."""
    return any(a.refused and b.helped and a.surface != b.surface for a in cells for b in cells)


_SAME_TEXT_SQL = """
WITH g AS (
    SELECT i.prompt_digest AS d, s.name AS surface,
           count(*) FILTER (WHERE i.{label} IN ('refusal', 'partial_refusal')) AS r,
           count(*) FILTER (WHERE i.{label} = 'compliance') AS h,
           min(i.id) FILTER (WHERE i.{label} IN ('refusal', 'partial_refusal')) AS rid,
           min(i.id) FILTER (WHERE i.{label} = 'compliance') AS hid
    FROM auditcore_interaction i JOIN auditcore_surface s ON s.id = i.surface_id
    WHERE i.day >= %s AND i.day <= %s AND i.source <> 'gold'
    GROUP BY 1, 2
), k AS (
    SELECT d, sum(r) AS refused FROM g GROUP BY d
    HAVING count(*) > 1 AND sum(r) > 0 AND sum(h) > 0
    ORDER BY sum(r) DESC, d LIMIT %s
)
SELECT g.d, g.surface, g.r, g.h, g.rid, g.hid FROM g JOIN k USING (d)
ORDER BY k.refused DESC, g.d, g.surface
"""


# The label column each layer reads: a fixed choice, never text from a request.
LABEL_COLUMN = {"served": "served_label", "model": "response_label"}


def _same_text_groups(
    start: dt.date, end: dt.date, layer: str = "served"
) -> list[tuple[list[SurfaceCell], str, int]]:
    """(cells, example prompt, interactions) per text on 2+ surfaces with both outcomes.

    On PostgreSQL one scan (a CTE grouping by the stored prompt digest and surface); elsewhere
    the same through the ORM in two statements.
    """
    rows: list[tuple] = []
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            sql = _SAME_TEXT_SQL.format(label=LABEL_COLUMN[layer])
            cursor.execute(sql, [start, end, CONSISTENCY_GROUPS])
            rows = cursor.fetchall()
    else:
        column = LABEL_COLUMN[layer]
        period = _period(start, end).annotate(digest=F("prompt_digest"))
        top = list(
            period.values("digest")
            .annotate(
                surfaces=Count("surface_id", distinct=True),
                refused=Count("id", filter=Q(**{f"{column}__in": REFUSED})),
                helped=Count("id", filter=Q(**{column: Label.COMPLIANCE})),
            )
            .filter(surfaces__gt=1, refused__gt=0, helped__gt=0)
            .order_by("-refused", "digest")
            .values_list("digest", flat=True)[:CONSISTENCY_GROUPS]
        )
        rows = list(
            period.filter(digest__in=top)
            .values("digest", "surface__name")
            .annotate(
                r=Count("id", filter=Q(**{f"{column}__in": REFUSED})),
                h=Count("id", filter=Q(**{column: Label.COMPLIANCE})),
                rid=Min("id", filter=Q(**{f"{column}__in": REFUSED})),
                hid=Min("id", filter=Q(**{column: Label.COMPLIANCE})),
            )
            .order_by()
            .values_list("digest", "surface__name", "r", "h", "rid", "hid")
        )
        rank = {d: i for i, d in enumerate(top)}
        rows.sort(key=lambda row: (rank[row[0]], row[1]))
    by_digest: dict[str, list[SurfaceCell]] = {}
    for d, surface, r, h, rid, hid in rows:
        by_digest.setdefault(d, []).append(SurfaceCell(surface, r, h, rid, hid))
    ids = [c.refused_example or c.helped_example for cells in by_digest.values() for c in cells]
    prompts = dict(Interaction.objects.filter(pk__in=ids[:1000]).values_list("id", "prompt"))
    out = []
    for cells in by_digest.values():
        example = next(
            (prompts[c.refused_example] for c in cells if c.refused_example in prompts), ""
        )
        out.append((cells, example, sum(c.refused + c.helped for c in cells)))
    return out


def surface_consistency(start: dt.date, end: dt.date, layer: str = "served") -> ConsistencyReport:
    """Prompts that are the same or near the same, helped on one surface and refused on another.

    Uses what users were served (Interaction.served_label), or at the model layer what the model
    answered (response_label). Same: one GROUP BY over the period on
    the stored prompt digest (equal normalised text), keeping texts on more than one surface with
    both outcomes; counts cover the whole period. Near: MinHash LSH (auditcore.consistency) over
    a bounded candidate set — refused prompts and helped prompts of the same categories, each a
    random subset in priority-key order — so their counts are within the candidates.
    """
    period = _period(start, end)
    column = LABEL_COLUMN[layer]
    groups: list[ConsistencyGroup] = []
    for cells, example, total in _same_text_groups(start, end, layer):
        if _inconsistent(cells):
            groups.append(ConsistencyGroup("same", example, 1, total, cells))
    refused = list(
        period.filter(**{f"{column}__in": REFUSED})
        .order_by("priority_key")
        .values_list("id", "surface__name", column, "category", "prompt")[:NEAR_REFUSED_CANDIDATES]
    )
    categories = sorted({r[3] for r in refused})
    helped = list(
        period.filter(**{column: Label.COMPLIANCE}, category__in=categories)
        .order_by("priority_key")
        .values_list("id", "surface__name", column, "category", "prompt")[:NEAR_HELPED_CANDIDATES]
    )
    candidates = {r[0]: r for r in refused + helped}
    found = near_duplicate_groups({k: r[4] for k, r in candidates.items()})
    for keys in found:
        rows = [candidates[k] for k in sorted(keys)]
        variants = len({normalise(r[4]) for r in rows})
        if variants < 2:
            continue  # equal texts are reported (with full counts) above
        cells = _cells((r[1], r[2], r[0]) for r in rows)
        if _inconsistent(cells):
            groups.append(ConsistencyGroup("near", rows[0][4], variants, len(rows), cells))
    groups.sort(key=lambda g: (-sum(c.refused for c in g.surfaces), g.kind))
    capped = len(refused) >= NEAR_REFUSED_CANDIDATES or len(helped) >= NEAR_HELPED_CANDIDATES
    return ConsistencyReport(groups[:CONSISTENCY_GROUPS], len(candidates), capped)
