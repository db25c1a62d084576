"""Design-weighted estimates for the two-axis dashboard: false refusals next to true refusals.

The rates and their arithmetic are auditcore.rates (STATISTICS.md "Estimating a rate"): frr, trr,
partial_share, wrong_refusal_share and missed_harm, each at the served layer (what users got,
shown first) and the model layer. This module reads a round's items, its strata and the
population counts; auditcore.estimate_frame resolves each item and computes the figures.

Gold items are never part of an estimate. Items of several rounds are pooled with each round's
strata kept apart, so a period is the union of non-overlapping rounds.
"""

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass, field

from django.db.models import Count, Q, Sum

from auditcore import rates as ra
from auditcore.estimate_frame import (
    FRAME_FIELDS,
    BreakdownRow,
    DisparityRow,
    Headline,
    ItemFrame,
    Population,
    StratumRef,
    TrendPoint,
    ValidationRow,
    breakdown,
    disparity,
    frame_from_rows,
    headline,
    heaviest_false_refusals,
    resolve_labels,
    round_trend,
    rows_in_combined_design,
    validation_rows,
    weekly_trend,
)
from auditcore.models import (
    AuditRound,
    GatewayAction,
    Interaction,
    RoundItem,
    RoundStratum,
    StratumCount,
    Verdict,
)
from auditcore.selectors.rounds import rounds_pooled
from auditcore.stats import RateEstimate

REFUSED = ra.REFUSED
LAYERS = ra.LAYERS
RATES = ra.RATES
RATE_LABELS = ra.RATE_LABELS
DIMENSIONS = {
    "category": "Category",
    "surface": "Surface",
    "model_version": "Model version",
    "user_segment": "User segment",
}
TREND_ROUNDS = 12
EXAMPLE_LIMIT = 50


def item_frame(round_ids: Sequence[int], known: dict[int, list] | None = None) -> ItemFrame:
    """One query: every non-gold item of the rounds with its labels and breakdown dimensions.

    known: rows already read per round id (the dashboard reads its round once for the figures
    and again for the trend otherwise).
    """
    known = known or {}
    missing = [r for r in round_ids if r not in known]
    rows = [row for r in round_ids if r in known for row in known[r]]
    if missing:
        rows += item_rows(missing)
    return frame_from_rows(rows)


def item_rows(round_ids: Sequence[int]) -> list[tuple]:
    """Every non-gold item of the rounds; a round read with its supplement gets their combined
    design (see _combine_supplements)."""
    rows = list(
        RoundItem.objects.filter(round_id__in=list(round_ids), is_gold=False)
        .order_by("id")
        .values_list(*FRAME_FIELDS)
    )
    return _combine_supplements(rows, round_ids) if len(round_ids) > 1 else rows


def _combine_supplements(rows: list[tuple], round_ids: Sequence[int]) -> list[tuple]:
    """Rows of first-round items moved into the combined design of their round and supplement.

    A supplement is a second-phase draw from its first round's unsampled remainder with the same
    keys (STATISTICS.md): together they are one priority sample with the supplement's τ. Its
    items already carry the combined π; the first round's items get π recomputed from that τ
    and join the supplement's stratum, so each stratum is counted once, with its N.
    """
    combined = {
        (first_round, key): (pk, tau)
        for pk, first_round, key, tau in RoundStratum.objects.filter(
            round_id__in=list(round_ids), round__supplement_of_id__in=list(round_ids)
        ).values_list("id", "round__supplement_of_id", "stratum_key", "tau")
    }
    if not combined:
        return rows
    firsts = {first for first, _ in combined}
    first_strata = {
        pk: (round_id, key, tau)
        for pk, round_id, key, tau in RoundStratum.objects.filter(round_id__in=firsts).values_list(
            "id", "round_id", "stratum_key", "tau"
        )
    }
    return rows_in_combined_design(rows, first_strata, combined)


# --- Strata ----------------------------------------------------------------------------------


def strata_info(
    round_ids: Sequence[int],
) -> tuple[dict[int, ra.StratumInfo], dict[int, StratumRef]]:
    """The drawn strata of the rounds, for nonresponse collapse and calibration, and their names."""
    info, refs = {}, {}
    if not round_ids:
        return info, refs
    rows = RoundStratum.objects.filter(round_id__in=list(round_ids)).values_list(
        "id", "round_id", "category", "outcome", "gateway_changed", "day", "model_version_id",
        "surface_id", "population", "stratum_key", "model_version__name",
    )  # fmt: skip
    for pk, round_id, category, outcome, served, day, model, surface, population, key, name in rows:
        info[pk] = ra.StratumInfo(
            group=(round_id, category, outcome),
            # A round may pool days, model versions or surfaces in one stratum (NULL there).
            day=day.toordinal() if day is not None else 0,
            attrs=(served, model, surface),
            population=int(population),
        )
        refs[pk] = StratumRef(key, round_id, category, outcome, name)
    return info, refs


# --- Headline --------------------------------------------------------------------------------


def _scope_q(rounds: Sequence[AuditRound]) -> Q:
    """The rounds' scopes (period, surfaces, model versions) on day/surface/model_version."""
    scope = Q(pk__in=[])
    for r in rounds:
        q = Q(day__gte=r.period_start, day__lte=r.period_end)
        surfaces = [s.pk for s in r.surfaces.all()]
        models = [m.pk for m in r.model_versions.all()]
        if surfaces:
            q &= Q(surface_id__in=surfaces)
        if models:
            q &= Q(model_version_id__in=models)
        scope |= q
    return scope


def _scoped_counts(rounds: Sequence[AuditRound]):
    return StratumCount.objects.filter(_scope_q(rounds))


def _scoped_interactions(rounds: Sequence[AuditRound]):
    return Interaction.objects.filter(_scope_q(rounds)).exclude(source="gold")


def population_counts(rounds: Sequence[AuditRound], layer: str = "served") -> Population:
    """All traffic in scope refused, by the classifier, as the model answered or as served.

    StratumCount holds the model layer only; the served count corrects it with the records a
    gateway touched (the only ones whose served label can differ from the model's).
    """
    totals = _scoped_counts(rounds).aggregate(
        total=Sum("count"), refused=Sum("count", filter=Q(outcome__in=REFUSED))
    )
    total, refused = int(totals["total"] or 0), int(totals["refused"] or 0)
    if layer == "served" and rounds:
        model_refused, served_refused = Q(response_label__in=REFUSED), Q(served_label__in=REFUSED)
        changed = (
            _scoped_interactions(rounds)
            .exclude(gateway_action=GatewayAction.NONE)
            .aggregate(
                added=Count("id", filter=served_refused & ~model_refused),
                removed=Count("id", filter=model_refused & ~served_refused),
            )
        )
        refused += changed["added"] - changed["removed"]
    return Population(total, refused, refused / total if total else None)


# --- Classifier validation -------------------------------------------------------------------


def classifier_validation(
    round_ids: Sequence[int],
    rows: Sequence[tuple] | None = None,
    strata: dict[int, tuple[str, str | None]] | None = None,
    layer: str = "served",
) -> list[ValidationRow]:
    """What reviewers saw after the reveal against the classifier's label, at one layer.

    Model layer: the classifier's label of the model's answer against the observed one. Served
    layer: its label of what the user got against what reviewers saw served (an untouched
    answer was served as the model gave it; a changed one counts only once someone recorded
    what was served).

    rows and strata, when the caller has read them already: the rounds' item rows (item_rows)
    and {RoundStratum id: (category, model version name)}; otherwise they are read here.
    """
    if rows is None:
        rows = item_rows(round_ids)
    if strata is None:
        refs = strata_info(round_ids)[1]
        strata = {pk: (ref.category, ref.model_version) for pk, ref in refs.items()}
    observations = (
        Verdict.objects.filter(
            item__round_id__in=list(round_ids), item__is_gold=False, superseded=False
        )
        .exclude(observed_label="")
        .values("item_id", "observed_label", "observed_served_label")
        .annotate(n=Count("id"))
        .order_by()
        .values_list("item_id", "observed_label", "observed_served_label", "n")
    )
    return validation_rows(rows, strata, observations, layer)


# --- Examples --------------------------------------------------------------------------------


@dataclass(frozen=True)
class Example:
    item_id: int
    interaction_id: int
    prompt: str
    category: str
    surface: str
    model_version: str
    user_segment: str
    response_label: str
    weight: float
    cause: str  # "model": the model refused; "gateway": the model complied, the gateway refused


_EXAMPLE_FIELDS = (
    "id",
    "interaction_id",
    "interaction__prompt",
    "interaction__category",
    "interaction__surface__name",
    "interaction__model_version__name",
    "interaction__user_segment",
    "interaction__response_label",
    "weight",
)


def item_outcome(item: RoundItem) -> tuple[str, str]:
    """(model label, served label) of one item: observed where reviewers did, as the estimates."""
    interaction = item.interaction
    model, served, _, _ = resolve_labels(
        item.observed_label,
        item.observed_served_label,
        interaction.gateway_action,
        interaction.response_label,
        interaction.served_label,
    )
    return model, served


def interaction_items(interaction: Interaction):
    """The non-gold round items drawn from one interaction, with their rounds."""
    return (
        RoundItem.objects.filter(interaction=interaction, is_gold=False)
        .select_related("round", "interaction")
        .order_by("round__period_start", "pk")
    )


def false_refusal_examples(
    round_ids: Sequence[int],
    limit: int = EXAMPLE_LIMIT,
    rows: Sequence[tuple] | None = None,
    layer: str = "served",
) -> list[Example]:
    """Confirmed false refusals ("should help", refused at `layer`), heaviest first.

    "Refused" is what reviewers observed, the classifier's label only where nobody did. At the
    served layer a refusal the model never gave is the gateway's (cause "gateway").
    rows: the rounds' item rows (item_rows) when the caller has them; the heaviest are picked
    from those and only they are read with their prompts.
    """
    if rows is None:
        rows = item_rows(round_ids)
    ids, causes = heaviest_false_refusals(rows, layer, limit)
    examples = RoundItem.objects.values_list(*_EXAMPLE_FIELDS)
    found = {row[0]: row for row in examples.filter(pk__in=ids)} if ids else {}
    return [Example(*found[i], cause=causes[i]) for i in ids if i in found]


# --- Round and period ------------------------------------------------------------------------


@dataclass(frozen=True)
class Scope:
    """The rounds an estimate pools, and rounds left out (their frames meet a pooled one's)."""

    rounds: list[AuditRound]
    skipped: list[AuditRound] = field(default_factory=list)
    start: dt.date | None = None
    end: dt.date | None = None
    reasons: dict[int, str] = field(default_factory=dict)  # why each skipped round was left out

    @property
    def skipped_with_reasons(self) -> list[tuple[AuditRound, str]]:
        return [(r, self.reasons.get(r.pk, "")) for r in self.skipped]

    @property
    def round_ids(self) -> list[int]:
        return [r.pk for r in self.rounds]


def reportable_rounds():
    return AuditRound.objects.filter(
        status__in=[AuditRound.Status.OPEN, AuditRound.Status.CLOSED]
    ).prefetch_related("surfaces", "model_versions")


def round_scope(audit_round: AuditRound) -> Scope:
    """A round with its supplements (or a supplement with its first round): one combined design."""
    first = audit_round.supplement_of or audit_round
    supplements = list(reportable_rounds().filter(supplement_of=first).order_by("pk"))
    return Scope([first, *supplements], [], first.period_start, first.period_end)


def period_scope(start: dt.date, end: dt.date) -> Scope:
    """The drawn rounds inside [start, end] whose frames are disjoint (rounds_pooled), pooled."""
    pooled = rounds_pooled(start, end)
    return Scope(
        pooled.used,
        [r for r, _ in pooled.left_out],
        start,
        end,
        reasons={r.pk: why for r, why in pooled.left_out},
    )


@dataclass(frozen=True)
class Estimates:
    scope: Scope
    headline: Headline
    breakdowns: dict[str, list[BreakdownRow]]
    disparity: list[DisparityRow]
    validation: list[ValidationRow]
    # The layer of the population count, disparity and validation (the breakdowns carry both).
    layer: str = "served"

    @property
    def layers(self) -> dict[str, dict[str, RateEstimate]]:
        return self.headline.layers


@dataclass(frozen=True)
class DashboardFigures:
    """What the dashboard shows for a round or a period; the trend and the examples only when
    asked for (the page shows them, its CSV and the API do not)."""

    estimates: Estimates
    trend: list[TrendPoint] = field(default_factory=list)
    examples: list[Example] = field(default_factory=list)


def dashboard_figures(
    *, scope: Scope, layer: str, trend: str | None = None, examples: int = 0
) -> DashboardFigures:
    """Everything the dashboard shows for a round or a period, from a handful of queries.

    layer: "served" (what users got) or "model", for the figures shown at one layer only.
    trend: "round" or "week" for the trend of the recent rounds; examples: how many confirmed
    false refusals to pick. Both reuse the item rows and strata read for the estimates.
    """
    if layer not in LAYERS:
        raise ValueError(f"unknown layer {layer!r}")
    ids = scope.round_ids
    rows = item_rows(ids)
    frame = frame_from_rows(rows)
    info, refs = strata_info(ids)
    respondents = ra.Respondents.of(frame.sample(), info)
    gold = RoundItem.objects.filter(round_id__in=ids, is_gold=True).count()
    strata = {pk: (ref.category, ref.model_version) for pk, ref in refs.items()}
    known = {"category": set(), "model_version": set()}
    for category, model in strata.values():
        # A round may pool categories or model versions in one stratum ("" / NULL there).
        known["category"].update([category] if category else [])
        known["model_version"].update([model] if model else [])
    estimates = Estimates(
        scope=scope,
        headline=headline(frame, respondents, population_counts(scope.rounds, layer), gold, refs),
        breakdowns={
            dim: breakdown(frame, respondents, dim, known.get(dim, ())) for dim in DIMENSIONS
        },
        disparity=disparity(frame, respondents, layer),
        validation=classifier_validation(ids, rows, strata, layer),
        layer=layer,
    )
    points = []
    if trend is not None:
        strata_by_round: dict[int, dict[int, ra.StratumInfo]] = {r: {} for r in ids}
        for pk, ref in refs.items():
            strata_by_round[ref.round_id][pk] = info[pk]
        # The trend reads each round alone: a round combined with its supplement here carries
        # the combined design, so the trend reads it again.
        combined = {r.supplement_of_id for r in scope.rounds if r.supplement_of_id}
        by_round: dict[int, list] = {r: [] for r in ids if r not in combined}
        for row in rows:
            if row[2] in by_round:
                by_round[row[2]].append(row)
        points = _trend(trend, None, by_round, strata_by_round)
    picked = false_refusal_examples(ids, examples, rows, layer) if examples else []
    return DashboardFigures(estimates, points, picked)


def round_estimates(audit_round: AuditRound, layer: str = "served") -> Estimates:
    return dashboard_figures(scope=round_scope(audit_round), layer=layer).estimates


# --- Trend -----------------------------------------------------------------------------------


def trend(
    granularity: str = "round", rounds: Sequence[AuditRound] | None = None
) -> list[TrendPoint]:
    """Rates per model version over rounds (each round its own point) or ISO weeks.

    Weeks pool items of non-overlapping rounds (the latest of overlapping rounds is kept) and
    estimate each week × model version as a domain.
    """
    return _trend(granularity, rounds)


def _trend(
    granularity: str,
    rounds: Sequence[AuditRound] | None,
    known: dict[int, list] | None = None,
    known_strata: dict[int, dict[int, ra.StratumInfo]] | None = None,
) -> list[TrendPoint]:
    """trend, with item rows and strata already read per round id (known / known_strata)."""
    if rounds is None:
        # A supplement's items carry its combined design with the first round: its figures are
        # the first round's (round_scope), never a point of their own.
        recent = list(
            reportable_rounds()
            .filter(supplement_of__isnull=True)
            .order_by("-period_start", "-pk")[:TREND_ROUNDS]
        )
        if granularity == "week":
            recent = _non_overlapping(recent)
        rounds = sorted(recent, key=lambda r: (r.period_start, r.pk))
    ids = [r.pk for r in rounds]
    frame = item_frame(ids, known)
    known_strata = known_strata or {}
    info = strata_info([r for r in ids if r not in known_strata])[0]
    for r in ids:
        info.update(known_strata.get(r, {}))
    respondents = ra.Respondents.of(frame.sample(), info)
    if granularity == "week":
        return weekly_trend(frame, respondents)
    return round_trend(frame, respondents, [(r.pk, r.name, r.period_start) for r in rounds])


def _non_overlapping(rounds: list[AuditRound]) -> list[AuditRound]:
    kept: list[AuditRound] = []
    for r in sorted(rounds, key=lambda r: (r.created_at, r.pk), reverse=True):
        if not any(r.period_start <= k.period_end and k.period_start <= r.period_end for k in kept):
            kept.append(r)
    return kept
