"""Reads for audit rounds: the allocation plan and its preview, read from StratumCount only.

How a quota is spread. A safety lead's quota is a floor for a category × outcome; its strata are
that category × outcome on each day × model version in the round's scope. The floor is split over
those strata in proportion to their population N_h (largest remainder, ties to the earlier
stratum), each share capped at N_h with the excess passed on to the uncapped strata. The sampler
then lifts every non-empty stratum to at least 2 items and spreads the rest of the budget by
Neyman allocation (auditcore.sampling.neyman_allocation). A stratum already drawn keeps at least
the items it has: a later plan can only extend it.

The design effect shown per stratum is that of the size measure, E[n·Σd²/(Σd)²] ≈ mean(x)·mean(1/x).
StratumCount holds Σw and Σw² of the impact weight w only, so the preview uses the lognormal
identity mean(x)·mean(1/x) = 1 + CV²(x): for x = w that is N·Σw²/(Σw)²; for x = √w it is
(N·Σw²/(Σw)²)^¼. The deff of the weights actually drawn is shown after the draw.
"""

import math
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date

from django.db.models import Count, Q, QuerySet, Sum

from auditcore import sampling
from auditcore.models import (
    AuditRound,
    GoldItem,
    Label,
    ModelVersion,
    RoundItem,
    RoundQuota,
    RoundStratum,
    StratumCount,
)

PLANNING_P = 0.2
OUTCOMES = [value for value, _ in Label.choices]


@dataclass
class PlanStratum:
    key: str
    day: date
    category: str
    outcome: str
    model_version_id: int
    model_version: str
    population: int
    impact_sum: float
    impact_sq_sum: float
    floor: int = 0
    planned: int = 0
    already_sampled: int = 0
    deff: float = 1.0
    half_width: float = math.inf
    reviews: float = 0.0

    @property
    def half_width_points(self) -> float | None:
        """The expected half-width in percentage points; None when nothing is planned."""
        return None if math.isinf(self.half_width) else self.half_width * 100


@dataclass
class QuotaRow:
    category: str
    outcome: str
    min_items: int
    population: int = 0
    planned: int = 0
    strata: int = 0
    half_width: float = math.inf
    deff: float = 1.0

    @property
    def half_width_points(self) -> float | None:
        """The expected half-width in percentage points; None when nothing is planned."""
        return None if math.isinf(self.half_width) else self.half_width * 100


@dataclass
class RoundPlan:
    strata: list[PlanStratum]
    quota_rows: list[QuotaRow]
    budget: int
    planned_total: int
    gold_planned: int
    review_effort: float
    population_total: int
    categories: list[str] = field(default_factory=list)


def spread_floor(total: int, sizes: Sequence[int]) -> list[int]:
    """Split a quota over strata in proportion to their sizes, capped at each size."""
    floors = [0] * len(sizes)
    remaining = min(int(total), sum(sizes))
    open_ = [i for i, s in enumerate(sizes) if s > 0]
    while remaining > 0 and open_:
        weight = sum(sizes[i] - floors[i] for i in open_) or 1
        shares = {i: remaining * (sizes[i] - floors[i]) / weight for i in open_}
        given = 0
        for i in open_:
            add = min(int(shares[i]), sizes[i] - floors[i])
            floors[i] += add
            given += add
        left = remaining - given
        for i in sorted(open_, key=lambda i: (-(shares[i] - int(shares[i])), i)):
            if left <= 0:
                break
            if floors[i] < sizes[i]:
                floors[i] += 1
                left -= 1
        remaining = left
        open_ = [i for i in open_ if floors[i] < sizes[i]]
    return floors


def size_measure_deff(kind: str, count: int, impact_sum: float, impact_sq_sum: float) -> float:
    """Design effect of the size measure in one stratum (see the module docstring)."""
    if kind == "uniform" or count <= 0 or impact_sum <= 0:
        return 1.0
    relvar = max(1.0, count * impact_sq_sum / impact_sum**2)
    return relvar if kind == "impact" else relvar**0.25


def _scoped_counts(audit_round: AuditRound) -> QuerySet[StratumCount]:
    counts = StratumCount.objects.filter(
        day__gte=audit_round.period_start, day__lte=audit_round.period_end
    )
    surfaces = [s.pk for s in audit_round.surfaces.all()]
    models = [m.pk for m in audit_round.model_versions.all()]
    if surfaces:
        counts = counts.filter(surface_id__in=surfaces)
    if models:
        counts = counts.filter(model_version_id__in=models)
    return counts


def planning_rates(audit_round: AuditRound) -> dict[tuple[str, str], float]:
    """P_h per category × outcome: the share judged "should help" in the latest earlier round."""
    earlier = (
        AuditRound.objects.filter(
            status__in=[AuditRound.Status.OPEN, AuditRound.Status.CLOSED],
            created_at__lt=audit_round.created_at,
        )
        .exclude(pk=audit_round.pk)
        .order_by("-created_at")
        .first()
    )
    if earlier is None:
        return {}
    rows = (
        RoundItem.objects.filter(
            round=earlier, is_gold=False, status=RoundItem.Status.DONE, stratum__isnull=False
        )
        .exclude(final_decision="unsure")
        .values("stratum__category", "stratum__outcome")
        .annotate(total=Count("id"), helped=Count("id", filter=Q(final_decision="help")))
    )
    return {
        (r["stratum__category"], r["stratum__outcome"]): r["helped"] / r["total"]
        for r in rows
        if r["total"]
    }


def round_plan(
    audit_round: AuditRound,
    *,
    quotas: dict[tuple[str, str], int] | None = None,
    budget: int | None = None,
) -> RoundPlan:
    """The allocation per stratum and its preview. `quotas`/`budget` override the stored ones."""
    grouped = (
        _scoped_counts(audit_round)
        .values("day", "category", "outcome", "model_version_id")
        .annotate(n=Sum("count"), s1=Sum("impact_sum"), s2=Sum("impact_sq_sum"))
        .order_by("day", "category", "outcome", "model_version_id")
    )
    model_names = dict(ModelVersion.objects.values_list("pk", "name"))
    strata = [
        PlanStratum(
            key=sampling.stratum_key(
                g["day"], g["category"], g["outcome"], model_names[g["model_version_id"]]
            ),
            day=g["day"],
            category=g["category"],
            outcome=g["outcome"],
            model_version_id=g["model_version_id"],
            model_version=model_names[g["model_version_id"]],
            population=int(g["n"] or 0),
            impact_sum=float(g["s1"] or 0.0),
            impact_sq_sum=float(g["s2"] or 0.0),
        )
        for g in grouped
        if g["n"]
    ]
    if quotas is None:
        quotas = {
            (q.category, q.outcome): q.min_items
            for q in RoundQuota.objects.filter(round=audit_round)
        }
    budget = audit_round.budget if budget is None else budget
    drawn = dict(
        RoundStratum.objects.filter(round=audit_round).values_list("stratum_key", "sampled")
    )

    by_group: dict[tuple[str, str], list[PlanStratum]] = defaultdict(list)
    for s in strata:
        by_group[(s.category, s.outcome)].append(s)
        s.already_sampled = drawn.get(s.key, 0)
    for group, members in by_group.items():
        shares = spread_floor(quotas.get(group, 0), [m.population for m in members])
        for member, share in zip(members, shares, strict=True):
            member.floor = max(share, min(member.already_sampled, member.population))

    rates = planning_rates(audit_round)
    allocation = sampling.neyman_allocation(
        [(s.population, rates.get((s.category, s.outcome))) for s in strata],
        [s.floor for s in strata],
        budget,
    )
    share = audit_round.double_review_share
    for s, n in zip(strata, allocation, strict=True):
        s.planned = max(n, s.already_sampled)
        s.deff = size_measure_deff(
            audit_round.size_measure, s.population, s.impact_sum, s.impact_sq_sum
        )
        s.half_width = sampling.expected_half_width(s.planned, PLANNING_P, s.deff, s.population)
        s.reviews = s.planned * (1 + share)

    categories = sorted(
        {c.slug for c in audit_round.policy_version.categories.all()}
        | {s.category for s in strata}
        | {c for c, _ in quotas}
    )
    quota_rows = []
    for category in categories:
        for outcome in OUTCOMES:
            members = by_group.get((category, outcome), [])
            row = QuotaRow(category, outcome, quotas.get((category, outcome), 0))
            row.population = sum(m.population for m in members)
            row.planned = sum(m.planned for m in members)
            row.strata = len(members)
            if row.planned:
                row.deff = sum(m.deff * m.planned for m in members) / row.planned
            row.half_width = sampling.expected_half_width(
                row.planned, PLANNING_P, row.deff, row.population or None
            )
            quota_rows.append(row)

    planned_total = sum(s.planned for s in strata)
    gold_planned = gold_target(planned_total, audit_round.gold_rate)
    return RoundPlan(
        strata=strata,
        quota_rows=quota_rows,
        budget=budget,
        planned_total=planned_total,
        gold_planned=gold_planned,
        review_effort=(planned_total + gold_planned) * (1 + share),
        population_total=sum(s.population for s in strata),
        categories=categories,
    )


def gold_target(sampled: int, gold_rate: float) -> int:
    """Gold items so that they make up `gold_rate` of the queue: g / (n + g) = rate."""
    if gold_rate <= 0 or sampled <= 0:
        return 0
    return round(sampled * gold_rate / (1 - gold_rate))


def round_list() -> QuerySet[AuditRound]:
    return AuditRound.objects.select_related("policy_version__policy", "created_by").annotate(
        item_count=Count("items", distinct=True)
    )


@dataclass(frozen=True)
class StratumResult:
    stratum: RoundStratum
    design_effect: float


def round_strata(audit_round: AuditRound) -> list[StratumResult]:
    """The strata as drawn, with the unequal-weighting design effect of their stored weights."""
    strata = list(
        RoundStratum.objects.filter(round=audit_round)
        .select_related("model_version")
        .order_by("day", "category", "outcome", "model_version__name")
    )
    weights: dict[int, list[float]] = defaultdict(list)
    for stratum_id, weight in RoundItem.objects.filter(
        round=audit_round, is_gold=False
    ).values_list("stratum_id", "weight"):
        weights[stratum_id].append(weight)
    return [
        StratumResult(s, sampling.kish_design_effect(weights[s.pk]) if weights[s.pk] else math.nan)
        for s in strata
    ]


def round_gold_items(audit_round: AuditRound) -> QuerySet[RoundItem]:
    return RoundItem.objects.filter(round=audit_round, is_gold=True).select_related("interaction")


def gold_pool() -> QuerySet[GoldItem]:
    return GoldItem.objects.select_related("interaction", "created_by")
