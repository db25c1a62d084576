"""Reads for audit rounds: the allocation plan and its preview, read from StratumCount only.

How the plan fits the budget (auditcore.sampling.plan_within_budget): strata are category ×
model outcome × served outcome, refined by surface, model version and day only while every
stratum keeps at least 2 expected items within the budget; a round already drawn keeps its
strata. A safety lead's quota is a floor for a category × outcome, split over the strata holding
it in proportion to its records there. The rest of the budget goes by Neyman allocation with the
should-help share of the previous round as P_h. A stratum already drawn keeps at least the items
it has: a later plan can only extend it. When the floors cannot fit, the plan says by how much and
which quotas to lower, and the draw is refused.

The design effect shown per stratum is that of the size measure (sampling.size_measure_deff),
from StratumCount's sums; the deff of the weights actually drawn is shown after the draw.
"""

import math
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date

from django.contrib.auth import get_user_model
from django.db.models import Count, Exists, OuterRef, Q, QuerySet, Sum
from django.utils import timezone

from auditcore import roles, sampling, stats
from auditcore.models import (
    AuditRound,
    Decision,
    GoldItem,
    Label,
    Lease,
    ModelVersion,
    PolicyVersion,
    RoundItem,
    RoundQuota,
    RoundStratum,
    StratumCount,
    Surface,
    Verdict,
)

PLANNING_P = 0.2
OUTCOMES = [value for value, _ in Label.choices]
SERVED_VALUES = {False: "as_model", True: "gateway"}
DIM_LABELS = {
    "category": "category",
    "outcome": "model outcome",
    "served": "served outcome",
    "surface": "surface",
    "model_version": "model version",
    "day": "day",
}


@dataclass
class PlanStratum:
    key: str
    category: str  # "" when pooled
    outcome: str  # "" when pooled
    gateway_changed: bool | None  # None when pooled
    surface: str | None
    model_version: str | None
    day: date | None
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

    @property
    def served(self) -> str:
        if self.gateway_changed is None:
            return "any"
        return "gateway changed" if self.gateway_changed else "as answered"


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
    dims: list[str] = field(default_factory=list)
    collapsed: list[str] = field(default_factory=list)
    fits: bool = True
    problem: str = ""
    warnings: list[str] = field(default_factory=list)
    gold_pool_size: int = 0
    # Expected ±95% half-width of a whole-round rate at P = 0.2, with the design effect of the
    # allocation and the size measure.
    deff: float = 1.0
    half_width: float = math.inf

    @property
    def half_width_points(self) -> float | None:
        return None if math.isinf(self.half_width) else self.half_width * 100

    @property
    def collapsed_labels(self) -> list[str]:
        return [DIM_LABELS[d] for d in self.collapsed]

    @property
    def dim_labels(self) -> list[str]:
        return [DIM_LABELS[d] for d in self.dims]


def allocation_deff(strata: list[PlanStratum]) -> float:
    """Kish design effect n·Σd²/(Σd)² of the planned allocation, each stratum's d = N_h/n_h
    scaled by its size-measure deff: what unequal sampling rates cost a whole-round rate."""
    live = [s for s in strata if s.planned > 0]
    n = sum(s.planned for s in live)
    total = sum(s.population for s in live)
    if not n or not total:
        return 1.0
    sum_d2 = sum(s.population**2 / s.planned * s.deff for s in live)
    return max(1.0, n * sum_d2 / total**2)


def round_frame_counts(audit_round: AuditRound) -> QuerySet[StratumCount]:
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
        .values("interaction__category", "interaction__response_label")
        .annotate(total=Count("id"), helped=Count("id", filter=Q(final_decision="help")))
    )
    return {
        (r["interaction__category"], r["interaction__response_label"]): r["helped"] / r["total"]
        for r in rows
        if r["total"]
    }


def round_cells(audit_round: AuditRound) -> list[sampling.Cell]:
    """The population of the round's frame by day × surface × model × category × outcomes."""
    grouped = (
        round_frame_counts(audit_round)
        .values("day", "surface_id", "model_version_id", "category", "outcome", "gateway_changed")
        .annotate(n=Sum("count"), s1=Sum("impact_sum"), s2=Sum("impact_sq_sum"))
        .order_by()
    )
    model_names = dict(ModelVersion.objects.values_list("pk", "name"))
    surface_names = dict(Surface.objects.values_list("pk", "name"))
    return [
        sampling.Cell(
            category=g["category"],
            outcome=g["outcome"],
            served=SERVED_VALUES[g["gateway_changed"]],
            surface=surface_names[g["surface_id"]],
            model_version=model_names[g["model_version_id"]],
            day=g["day"].isoformat(),
            population=int(g["n"] or 0),
            impact_sum=float(g["s1"] or 0.0),
            impact_sq_sum=float(g["s2"] or 0.0),
        )
        for g in grouped
        if g["n"]
    ]


def _plan_stratum(s: sampling.PlannedStratum) -> PlanStratum:
    served = s.value("served")
    day = s.value("day")
    return PlanStratum(
        key=s.key,
        category=s.value("category") or "",
        outcome=s.value("outcome") or "",
        gateway_changed=None if served is None else served == SERVED_VALUES[True],
        surface=s.value("surface"),
        model_version=s.value("model_version"),
        day=None if day is None else date.fromisoformat(day),
        population=s.population,
        impact_sum=s.impact_sum,
        impact_sq_sum=s.impact_sq_sum,
        floor=s.floor,
        planned=s.planned,
    )


def round_plan(
    audit_round: AuditRound,
    *,
    quotas: dict[tuple[str, str], int] | None = None,
    budget: int | None = None,
) -> RoundPlan:
    """The allocation per stratum and its preview. `quotas`/`budget` override the stored ones."""
    cells = round_cells(audit_round)
    if quotas is None:
        quotas = {
            (q.category, q.outcome): q.min_items
            for q in RoundQuota.objects.filter(round=audit_round)
        }
    budget = audit_round.budget if budget is None else budget
    drawn = dict(
        RoundStratum.objects.filter(round=audit_round).values_list("stratum_key", "sampled")
    )
    parent = audit_round.supplement_of
    if parent is not None:
        taken = dict(
            RoundStratum.objects.filter(round=parent).values_list("stratum_key", "sampled")
        )
        fitted = sampling.plan_supplement(
            cells, quotas, budget, parent.strata_dims or (), taken, planning_rates(audit_round)
        )
        for raw in fitted.strata:
            raw.planned = max(raw.planned, drawn.get(raw.key, 0))
    else:
        fitted = sampling.plan_within_budget(
            cells,
            quotas,
            budget,
            rates=planning_rates(audit_round),
            dims=audit_round.strata_dims,
            sampled=drawn,
        )
    strata = [_plan_stratum(s) for s in fitted.strata]
    share = audit_round.double_review_share
    for s in strata:
        s.already_sampled = drawn.get(s.key, 0)
        s.deff = sampling.size_measure_deff(
            audit_round.size_measure, s.population, s.impact_sum, s.impact_sq_sum
        )
        s.half_width = sampling.expected_half_width(s.planned, PLANNING_P, s.deff, s.population)
        s.reviews = s.planned * (1 + share)

    group_population: dict[tuple[str, str], int] = defaultdict(int)
    group_planned: dict[tuple[str, str], float] = defaultdict(float)
    group_strata: dict[tuple[str, str], int] = defaultdict(int)
    group_deff: dict[tuple[str, str], float] = defaultdict(float)
    for s, raw in zip(strata, fitted.strata, strict=True):
        for group, n in raw.groups.items():
            # A pooled stratum's planned items split over its groups by their records.
            part = s.planned * n / raw.population
            group_population[group] += n
            group_planned[group] += part
            group_strata[group] += 1
            group_deff[group] += s.deff * part

    categories = sorted(
        {c.slug for c in audit_round.policy_version.categories.all()}
        | {c.category for c in cells}
        | {c for c, _ in quotas}
    )
    quota_rows = []
    for category in categories:
        for outcome in OUTCOMES:
            group = (category, outcome)
            row = QuotaRow(category, outcome, quotas.get(group, 0))
            row.population = group_population.get(group, 0)
            row.planned = round(group_planned.get(group, 0.0))
            row.strata = group_strata.get(group, 0)
            if group_planned.get(group):
                row.deff = group_deff[group] / group_planned[group]
            row.half_width = sampling.expected_half_width(
                row.planned, PLANNING_P, row.deff, row.population or None
            )
            quota_rows.append(row)

    warnings = [
        f"Quota {category}/{outcome} ({n}): no records of this category and outcome in the "
        "round's frame; it plans nothing."
        for (category, outcome), n in sorted(quotas.items())
        if n > 0 and not group_population.get((category, outcome))
    ]
    planned_total = sum(s.planned for s in strata)
    pool_size = GoldItem.objects.filter(active=True).count() if audit_round.gold_rate > 0 else 0
    gold_planned = min(gold_target(planned_total, audit_round.gold_rate), pool_size)
    if audit_round.gold_rate > 0 and pool_size == 0:
        warnings.append(
            f"The gold rate is {audit_round.gold_rate:.2f} but the gold pool is empty: no gold "
            "items will be mixed in. Add gold prompts first, or set the rate to 0."
        )
    deff = allocation_deff(strata)
    return RoundPlan(
        strata=strata,
        quota_rows=quota_rows,
        budget=budget,
        planned_total=planned_total,
        gold_planned=gold_planned,
        review_effort=(planned_total + gold_planned) * (1 + share),
        population_total=sum(s.population for s in strata),
        categories=categories,
        dims=list(fitted.dims),
        collapsed=fitted.collapsed,
        fits=fitted.fits,
        problem=fitted.problem,
        warnings=warnings,
        gold_pool_size=pool_size,
        deff=deff,
        half_width=sampling.expected_half_width(
            planned_total, PLANNING_P, deff, sum(s.population for s in strata) or None
        ),
    )


def gold_target(sampled: int, gold_rate: float) -> int:
    """Gold items so that they make up `gold_rate` of the queue: g / (n + g) = rate."""
    if gold_rate <= 0 or sampled <= 0:
        return 0
    return round(sampled * gold_rate / (1 - gold_rate))


def _frame_text(audit_round: AuditRound) -> str:
    surfaces = ", ".join(s.name for s in audit_round.surfaces.all()) or "every surface"
    models = ", ".join(m.name for m in audit_round.model_versions.all()) or "every model version"
    return f"{audit_round.period_start} – {audit_round.period_end}, {surfaces}, {models}"


@dataclass(frozen=True)
class Overlap:
    audit_round: AuditRound
    frame: str


def round_overlap(
    *,
    period_start: date,
    period_end: date,
    surface_ids: set[int],
    model_version_ids: set[int],
    exclude_ids: set[int] = frozenset(),
) -> Overlap | None:
    """The first round whose frame (period × surfaces × model versions) meets this one.

    Empty surfaces or model versions mean all of them, so they meet any set. A supplement shares
    its first round's frame and is found through that round.
    """
    candidates = (
        AuditRound.objects.filter(
            period_start__lte=period_end, period_end__gte=period_start, supplement_of=None
        )
        .exclude(pk__in=exclude_ids)
        .prefetch_related("surfaces", "model_versions")
        .order_by("period_start", "pk")
    )
    for other in candidates:
        theirs_s = {s.pk for s in other.surfaces.all()}
        theirs_m = {m.pk for m in other.model_versions.all()}
        if theirs_s and surface_ids and not theirs_s & surface_ids:
            continue
        if theirs_m and model_version_ids and not theirs_m & model_version_ids:
            continue
        return Overlap(other, _frame_text(other))
    return None


def frames_meet(a: AuditRound, b: AuditRound) -> bool:
    """Whether two rounds' frames (period × surfaces × model versions) share any record."""
    if a.period_start > b.period_end or b.period_start > a.period_end:
        return False
    for mine, theirs in (
        ({s.pk for s in a.surfaces.all()}, {s.pk for s in b.surfaces.all()}),
        ({m.pk for m in a.model_versions.all()}, {m.pk for m in b.model_versions.all()}),
    ):
        if mine and theirs and not mine & theirs:
            return False
    return True


@dataclass(frozen=True)
class PooledRounds:
    used: list[AuditRound]
    left_out: list[tuple[AuditRound, str]]  # each with the reason, to show beside the figures


def rounds_pooled(start: date, end: date) -> PooledRounds:
    """The drawn rounds inside [start, end] that a period or cross-surface view may pool.

    Their frames must be disjoint, so that no record counts twice: rounds over different
    surfaces or model versions of one week pool. Where frames meet (rounds made before the
    overlap rule), the round with more final verdicts is used, then the later one, never an
    unreviewed round over a reviewed one. A supplement is left out: its items carry the combined
    design's π, which only a combined estimate with its first round may use.
    """
    candidates = list(
        AuditRound.objects.filter(
            status__in=[AuditRound.Status.OPEN, AuditRound.Status.CLOSED],
            period_start__gte=start,
            period_end__lte=end,
        )
        .annotate(
            final=Count(
                "items",
                filter=Q(items__status=RoundItem.Status.DONE, items__is_gold=False),
            )
        )
        .prefetch_related("surfaces", "model_versions")
    )
    candidates.sort(key=lambda r: (-r.final, -r.created_at.timestamp(), -r.pk))
    used: list[AuditRound] = []
    left_out: list[tuple[AuditRound, str]] = []
    for r in candidates:
        if r.supplement_of_id is not None:
            left_out.append((r, f"a supplement of round {r.supplement_of_id}"))
            continue
        other = next((k for k in used if frames_meet(r, k)), None)
        if other is not None:
            left_out.append((r, f"its frame overlaps {other.name!r}, which has more verdicts"))
        else:
            used.append(r)
    used.sort(key=lambda r: (r.period_start, r.pk))
    return PooledRounds(used, left_out)


def round_list() -> QuerySet[AuditRound]:
    return AuditRound.objects.select_related("policy_version__policy", "created_by").annotate(
        item_count=Count("items", distinct=True)
    )


def latest_reviewed_round(rounds: QuerySet[AuditRound]) -> tuple[AuditRound | None, bool]:
    """The most recent of `rounds` with a final help/decline call, else the newest of them.

    Returns (the round, whether it has such a call).
    """
    newest_first = rounds.order_by("-period_start", "-pk")
    answered = RoundItem.objects.filter(
        round=OuterRef("pk"), is_gold=False, final_decision__in=[Decision.HELP, Decision.DECLINE]
    )
    reviewed = newest_first.filter(Exists(answered)).first()
    return (reviewed, True) if reviewed else (newest_first.first(), False)


@dataclass(frozen=True)
class StratumResult:
    stratum: RoundStratum
    design_effect: float


def round_strata(audit_round: AuditRound) -> list[StratumResult]:
    """The strata as drawn, with the unequal-weighting design effect of their stored weights."""
    strata = list(
        RoundStratum.objects.filter(round=audit_round)
        .select_related("model_version", "surface")
        .order_by("stratum_key")
    )
    weights: dict[int, list[float]] = defaultdict(list)
    for stratum_id, weight in RoundItem.objects.filter(
        round=audit_round, is_gold=False
    ).values_list("stratum_id", "weight"):
        weights[stratum_id].append(weight)
    return [
        StratumResult(s, stats.kish_design_effect(weights[s.pk]) if weights[s.pk] else math.nan)
        for s in strata
    ]


def round_gold_items(audit_round: AuditRound) -> QuerySet[RoundItem]:
    return RoundItem.objects.filter(round=audit_round, is_gold=True).select_related("interaction")


def gold_pool() -> QuerySet[GoldItem]:
    return GoldItem.objects.select_related("interaction", "created_by")


# --- What a destructive lead action would change (shown on its confirmation page) ---------------


@dataclass(frozen=True)
class RoundImpact:
    """One round's items and verdicts an action would touch."""

    round_id: int
    round_name: str
    policy_version: str
    items: int
    pending: int
    done: int
    adjudication: int
    verdicts: int
    held: int  # items a reviewer holds a live lease on right now


def _impact(items: QuerySet[RoundItem]) -> list[RoundImpact]:
    now = timezone.now()
    rows = (
        items.values("round_id", "round__name", "round__policy_version__number")
        .annotate(
            n=Count("id"),
            pending=Count("id", filter=Q(status=RoundItem.Status.PENDING)),
            done=Count("id", filter=Q(status=RoundItem.Status.DONE)),
            adjudication=Count("id", filter=Q(status=RoundItem.Status.ADJUDICATION)),
        )
        .order_by("round__name", "round_id")
    )
    ids = items.values("id")
    verdicts = dict(
        Verdict.objects.filter(item_id__in=ids, superseded=False)
        .values_list("item__round_id")
        .annotate(n=Count("id"))
    )
    held = dict(
        Lease.objects.filter(item_id__in=ids, skipped_at__isnull=True, expires_at__gt=now)
        .values_list("item__round_id")
        .annotate(n=Count("item_id", distinct=True))
    )
    return [
        RoundImpact(
            round_id=row["round_id"],
            round_name=row["round__name"],
            policy_version=f"v{row['round__policy_version__number']}",
            items=row["n"],
            pending=row["pending"],
            done=row["done"],
            adjudication=row["adjudication"],
            verdicts=verdicts.get(row["round_id"], 0),
            held=held.get(row["round_id"], 0),
        )
        for row in rows
    ]


def rereview_items(
    *, policy_version: PolicyVersion, category: str, from_version: PolicyVersion
) -> QuerySet[RoundItem]:
    """The items a re-review of `category` under `policy_version` moves: those of open rounds
    drawn under `from_version`, still judged under an older version of the same policy."""
    return RoundItem.objects.filter(
        round__status=AuditRound.Status.OPEN,
        round__policy_version=from_version,
        # The record's category: a stratum may pool categories when the budget is small.
        interaction__category=category,
        is_gold=False,
        policy_version__policy_id=policy_version.policy_id,
        policy_version__number__lt=policy_version.number,
    )


@dataclass(frozen=True)
class RereviewGroup:
    from_version: PolicyVersion
    rounds: list[RoundImpact]

    @property
    def items(self) -> int:
        return sum(r.items for r in self.rounds)

    @property
    def verdicts(self) -> int:
        return sum(r.verdicts for r in self.rounds)


def rereview_preview(*, policy_version: PolicyVersion, category: str) -> list[RereviewGroup]:
    """Per earlier version of the policy: the open rounds drawn under it a re-review would touch."""
    earlier = PolicyVersion.objects.filter(
        policy_id=policy_version.policy_id, number__lt=policy_version.number
    ).order_by("-number")
    groups = []
    for version in earlier:
        rounds = _impact(
            rereview_items(policy_version=policy_version, category=category, from_version=version)
        )
        if rounds:
            groups.append(RereviewGroup(from_version=version, rounds=rounds))
    return groups


def round_close_preview(audit_round: AuditRound) -> RoundImpact | None:
    """The round's items by state: what closing it leaves unreviewed."""
    impact = _impact(RoundItem.objects.filter(round=audit_round))
    return impact[0] if impact else None


# --- Review progress of a round (per stratum, per reviewer) -------------------------------------


@dataclass(frozen=True)
class ProgressRow:
    label: str
    items: int
    reviewed: int

    @property
    def pending(self) -> int:
        return self.items - self.reviewed


@dataclass(frozen=True)
class ReviewerProgress:
    username: str
    assigned: bool
    verdicts: int
    observations_missing: int


@dataclass(frozen=True)
class RoundReviewProgress:
    total: ProgressRow
    strata: list[ProgressRow]
    reviewers: list[ReviewerProgress]
    assigned_ids: list[int]


def reviewer_users() -> QuerySet:
    """Users who may review (the reviewer role, or admin), by name."""
    return (
        get_user_model()
        .objects.filter(is_active=True, groups__name__in=[roles.REVIEWER, roles.ADMIN])
        .distinct()
        .order_by("username")
    )


def round_review_progress(audit_round: AuditRound) -> RoundReviewProgress:
    """x of n items reviewed (final or in adjudication), per stratum and overall; each
    reviewer's verdicts in the round, with the assigned reviewers listed even before their first."""
    reviewed = ~Q(status=RoundItem.Status.PENDING)
    strata = [
        ProgressRow(label=row["stratum__stratum_key"] or "gold", items=row["n"], reviewed=row["r"])
        for row in RoundItem.objects.filter(round=audit_round)
        .values("stratum__stratum_key")
        .annotate(n=Count("pk"), r=Count("pk", filter=reviewed))
        .order_by("stratum__stratum_key")
    ]
    total = ProgressRow(
        label="all",
        items=sum(s.items for s in strata),
        reviewed=sum(s.reviewed for s in strata),
    )
    assigned = dict(audit_round.reviewers.values_list("pk", "username"))
    counts = {
        row["reviewer_id"]: row
        for row in Verdict.objects.filter(item__round=audit_round, superseded=False)
        .values("reviewer_id", "reviewer__username")
        .annotate(n=Count("pk"), missing=Count("pk", filter=Q(observed_label="")))
    }
    names = {pk: row["reviewer__username"] for pk, row in counts.items()} | assigned
    reviewers = sorted(
        (
            ReviewerProgress(
                username=name,
                assigned=pk in assigned,
                verdicts=counts.get(pk, {}).get("n", 0),
                observations_missing=counts.get(pk, {}).get("missing", 0),
            )
            for pk, name in names.items()
        ),
        key=lambda r: (-r.verdicts, r.username),
    )
    return RoundReviewProgress(
        total=total, strata=strata, reviewers=reviewers, assigned_ids=sorted(assigned)
    )
