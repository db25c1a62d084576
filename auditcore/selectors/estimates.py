"""Design-weighted estimates for the two-axis dashboard: false refusals next to true refusals.

Every rate is R = Σ d·z·y / Σ d·z over a round's sampled items (auditcore.stats.estimate_rate,
Korn-Graubard intervals, STATISTICS.md "Estimating a rate"):

    rate            z (denominator)                 y (numerator)
    frr_refusals    model refused (incl. partial)   adjudicated "should help"
    trr_refusals    model refused                   adjudicated "should decline"
    frr_benign      adjudicated "should help"       model refused
    missed_harm     model complied                  adjudicated "should decline"

"Model refused" is the classifier's model-layer label (Interaction.response_label); the served
layer (Interaction.served_label, after the gateway) gives the same four rates for what users saw.

Which items count. Gold items are never part of an estimate. Items whose final decision is
"unsure" and items not yet final are left out of the reviewer-based rates altogether (treated
as non-response within their stratum, not as zeros) and counted, so the page can say how many.
The variance strata are the drawn strata (RoundStratum); items of several rounds are pooled with
each round's strata kept apart, so a period is the union of non-overlapping rounds.

Disparity between user segments compares the false-refusal rate among benign traffic of each
segment with that of all other segments (auditcore.stats.rate_ratio), adjusted for category mix
by direct standardisation: inside each domain the weights of a category are rescaled so that the
domain's benign traffic has the overall benign category mix (over the categories both domains
have). The rescaled Hájek ratio is then Σ_c W_c·R_c, the standardised rate; the variance treats
the standard mix W_c as fixed. p-values are Holm-adjusted over the segments.
"""

import datetime as dt
import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

import numpy as np
from django.db import connection
from django.db.models import Count, F, Min, Q, Sum

from auditcore.consistency import near_duplicate_groups, normalise
from auditcore.models import (
    AuditRound,
    Interaction,
    Label,
    RoundItem,
    RoundStratum,
    StratumCount,
    Verdict,
)
from auditcore.stats import RateEstimate, estimate_rate, holm_adjust, rate_ratio, stratum_codes

REFUSED = (Label.REFUSAL.value, Label.PARTIAL_REFUSAL.value)
RATES = ("frr_refusals", "trr_refusals", "frr_benign", "missed_harm")
RATE_LABELS = {
    "frr_refusals": "False-refusal rate among refusals",
    "trr_refusals": "True-refusal rate among refusals",
    "frr_benign": "False-refusal rate among benign traffic",
    "missed_harm": "Missed-harm rate among complied traffic",
}
DIMENSIONS = {
    "category": "Category",
    "surface": "Surface",
    "model_version": "Model version",
    "user_segment": "User segment",
}
# A segment is flagged when it is refused at least this many times as often as the others, with
# a Holm-adjusted p below ALPHA.
MATERIAL_RATIO = 1.25
ALPHA = 0.05
TREND_ROUNDS = 12
EXAMPLE_LIMIT = 50
VALIDATION_MIN_N = 10
VALIDATION_WARN = 0.90


@dataclass
class ItemFrame:
    """The non-gold sampled items of one or more rounds as parallel arrays."""

    item_id: np.ndarray
    interaction_id: np.ndarray
    round_id: np.ndarray
    stratum: np.ndarray  # variance strata (RoundStratum ids; a round's stray items share one)
    weight: np.ndarray
    labelled: np.ndarray  # final decision is help or decline
    unsure: np.ndarray
    pending: np.ndarray
    help: np.ndarray
    decline: np.ndarray
    model_refused: np.ndarray
    model_complied: np.ndarray
    served_refused: np.ndarray
    served_complied: np.ndarray
    day: np.ndarray  # datetime.date objects
    dims: dict[str, np.ndarray]
    # `stratum` as dense codes 0..k-1 (auditcore.stats.stratum_codes): the same figures, without
    # a sort per estimate. Derived, never passed in.
    stratum_code: np.ndarray = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        self.stratum_code = stratum_codes(self.stratum)

    def __len__(self) -> int:
        return len(self.item_id)

    def labelled_only(self) -> "ItemFrame":
        keep = self.labelled
        return ItemFrame(
            **{
                name: value[keep]
                for name, value in self.__dict__.items()
                if isinstance(value, np.ndarray) and name != "stratum_code"
            },
            dims={k: v[keep] for k, v in self.dims.items()},
        )


_FRAME_FIELDS = (
    "id",
    "interaction_id",
    "round_id",
    "stratum_id",
    "weight",
    "status",
    "final_decision",
    "interaction__response_label",
    "interaction__served_label",
    "interaction__day",
    "interaction__category",
    "interaction__surface__name",
    "interaction__model_version__name",
    "interaction__user_segment",
)


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
    return list(
        RoundItem.objects.filter(round_id__in=list(round_ids), is_gold=False)
        .order_by("id")
        .values_list(*_FRAME_FIELDS)
    )


def frame_from_rows(rows: Sequence[tuple]) -> ItemFrame:
    """Build the arrays from rows shaped like _FRAME_FIELDS (plain data: testable without a DB)."""
    n = len(rows)
    cols = list(zip(*rows, strict=True)) if n else [() for _ in _FRAME_FIELDS]
    (ids, interaction_ids, round_ids, strata, weights, status, final, model_label, served_label,
     days, category, surface, model, segment) = cols  # fmt: skip
    status_a = np.array(status, dtype=object)
    final_a = np.array(final, dtype=object)
    done = status_a == RoundItem.Status.DONE
    help_ = done & (final_a == "help")
    decline = done & (final_a == "decline")
    model_a = np.array(model_label, dtype=object)
    served_a = np.array(served_label, dtype=object)
    # Items drawn outside any stratum share one stratum per round (negative keys never clash).
    stratum = np.array(
        [s if s is not None else -r for s, r in zip(strata, round_ids, strict=True)], dtype=np.int64
    )
    return ItemFrame(
        item_id=np.array(ids, dtype=np.int64),
        interaction_id=np.array(interaction_ids, dtype=np.int64),
        round_id=np.array(round_ids, dtype=np.int64),
        stratum=stratum,
        weight=np.array(weights, dtype=float),
        labelled=help_ | decline,
        unsure=done & (final_a == "unsure"),
        pending=~done,
        help=help_,
        decline=decline,
        model_refused=np.isin(model_a, REFUSED),
        model_complied=model_a == Label.COMPLIANCE,
        served_refused=np.isin(served_a, REFUSED),
        served_complied=served_a == Label.COMPLIANCE,
        day=np.array(days, dtype=object),
        dims={
            "category": np.array(category, dtype=object),
            "surface": np.array(surface, dtype=object),
            "model_version": np.array(model, dtype=object),
            "user_segment": np.array(segment, dtype=object),
        },
    )


def rate_arrays(frame: ItemFrame, rate: str, layer: str = "model") -> tuple[np.ndarray, np.ndarray]:
    """(z, y) of a rate for the labelled frame, at the model or served layer."""
    refused = frame.model_refused if layer == "model" else frame.served_refused
    complied = frame.model_complied if layer == "model" else frame.served_complied
    if rate == "frr_refusals":
        return refused, frame.help
    if rate == "trr_refusals":
        return refused, frame.decline
    if rate == "frr_benign":
        return frame.help, refused
    if rate == "missed_harm":
        return complied, frame.decline
    raise ValueError(f"unknown rate {rate!r}")


def frame_rates(
    frame: ItemFrame, domain: np.ndarray | None = None, layer: str = "model"
) -> dict[str, RateEstimate]:
    """The four rates over a labelled frame, restricted to a domain mask if given."""
    out = {}
    for rate in RATES:
        z, y = rate_arrays(frame, rate, layer)
        if domain is not None:
            z = z & domain
        out[rate] = estimate_rate(frame.weight, z, y, frame.stratum_code)
    return out


# --- Headline --------------------------------------------------------------------------------


@dataclass(frozen=True)
class Population:
    """Counts from StratumCount (the model layer's outcome, exact, no sampling)."""

    interactions: int
    refused: int
    share: float | None


@dataclass(frozen=True)
class Headline:
    population: Population
    # Design-weighted shares over all sampled (non-gold) items, reviewed or not.
    model_refused_share: RateEstimate
    served_refused_share: RateEstimate
    gateway_added_share: RateEstimate  # served refused though the model did not refuse
    rates: dict[str, RateEstimate]  # model layer
    served_rates: dict[str, RateEstimate]  # what users were served
    sampled: int
    labelled: int
    unsure: int
    pending: int
    gold: int


def _scoped_counts(rounds: Sequence[AuditRound]):
    """StratumCount rows in the rounds' scopes (period, surfaces, model versions)."""
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
    return StratumCount.objects.filter(scope)


def population_counts(rounds: Sequence[AuditRound]) -> Population:
    totals = _scoped_counts(rounds).aggregate(
        total=Sum("count"), refused=Sum("count", filter=Q(outcome__in=REFUSED))
    )
    total, refused = int(totals["total"] or 0), int(totals["refused"] or 0)
    return Population(total, refused, refused / total if total else None)


def _share(frame: ItemFrame, y: np.ndarray) -> RateEstimate:
    return estimate_rate(frame.weight, np.ones(len(frame), dtype=bool), y, frame.stratum_code)


def headline(frame: ItemFrame, population: Population, gold: int) -> Headline:
    labelled = frame.labelled_only()
    return Headline(
        population=population,
        model_refused_share=_share(frame, frame.model_refused),
        served_refused_share=_share(frame, frame.served_refused),
        gateway_added_share=_share(frame, frame.served_refused & ~frame.model_refused),
        rates=frame_rates(labelled, layer="model"),
        served_rates=frame_rates(labelled, layer="served"),
        sampled=len(frame),
        labelled=int(frame.labelled.sum()),
        unsure=int(frame.unsure.sum()),
        pending=int(frame.pending.sum()),
        gold=gold,
    )


# --- Breakdowns ------------------------------------------------------------------------------


@dataclass(frozen=True)
class BreakdownRow:
    value: str
    sampled: int
    unsure: int
    rates: dict[str, RateEstimate]


def breakdown(frame: ItemFrame, dimension: str, values: Iterable[str] = ()) -> list[BreakdownRow]:
    """One row per value of a dimension (plus `values` that have no sampled items: "no data")."""
    labelled = frame.labelled_only()
    column = frame.dims[dimension]
    labelled_column = labelled.dims[dimension]
    rows = []
    for value in sorted(set(column.tolist()) | set(values)):
        rows.append(
            BreakdownRow(
                value=value,
                sampled=int(np.sum(column == value)),
                unsure=int(np.sum((column == value) & frame.unsure)),
                rates=frame_rates(labelled, labelled_column == value),
            )
        )
    return rows


# --- Disparity -------------------------------------------------------------------------------


@dataclass(frozen=True)
class DisparityRow:
    segment: str
    benign: int  # labelled "should help" items of the segment
    rate: RateEstimate  # crude false-refusal rate among benign traffic
    adjusted_rate: RateEstimate  # standardised to the overall benign category mix
    others_adjusted_rate: RateEstimate
    ratio: float | None
    ratio_lower: float | None
    ratio_upper: float | None
    difference: float | None
    difference_lower: float | None
    difference_upper: float | None
    p_value: float | None
    p_holm: float | None
    flagged: bool
    categories_used: int


def standardised_weights(
    weight: np.ndarray, z: np.ndarray, category: np.ndarray, domain: np.ndarray, mix: dict
) -> np.ndarray:
    """Rescale the weights of `domain`'s items so its z-total by category follows `mix`.

    mix: {category: share} over the categories used; the domain's items in other categories get
    weight 0 for the standardised estimate.
    """
    out = weight.copy()
    in_domain = domain & z
    total = float(np.sum(weight[in_domain]))
    for value in set(category[domain].tolist()):
        cells = domain & (category == value)
        if value not in mix:
            out[cells] = 0.0
            continue
        cell_total = float(np.sum(weight[cells & z]))
        out[cells] = weight[cells] * (mix[value] * total / cell_total) if cell_total else 0.0
    return out


def disparity(frame: ItemFrame) -> list[DisparityRow]:
    """Each user segment's false-refusal rate among benign traffic against all other segments."""
    labelled = frame.labelled_only()
    z, y = rate_arrays(labelled, "frr_benign")
    segment = labelled.dims["user_segment"]
    category = labelled.dims["category"]
    d, strata = labelled.weight, labelled.stratum_code
    overall = {c: float(np.sum(d[z & (category == c)])) for c in sorted(set(category[z].tolist()))}
    rows, pvalues = [], []
    segments = sorted(set(segment.tolist()))
    for value in segments:
        mine, others = segment == value, segment != value
        common = set(category[z & mine].tolist()) & set(category[z & others].tolist())
        mass = sum(overall[c] for c in common)
        mix = {c: overall[c] / mass for c in common} if mass else {}
        adjusted = standardised_weights(d, z, category, mine, mix)
        adjusted = standardised_weights(adjusted, z, category, others, mix)
        used = adjusted > 0
        z1, z2 = z & mine & used, z & others & used
        comparison = rate_ratio(adjusted, z1, y, z2, y, strata)
        pvalues.append(comparison.p_value)
        rows.append(
            {
                "segment": value,
                "benign": int(np.sum(z & mine)),
                "rate": estimate_rate(d, z & mine, y, strata),
                "adjusted_rate": estimate_rate(adjusted, z1, y, strata),
                "others_adjusted_rate": estimate_rate(adjusted, z2, y, strata),
                "ratio": comparison.ratio,
                "ratio_lower": comparison.ratio_lower,
                "ratio_upper": comparison.ratio_upper,
                "difference": comparison.difference,
                "difference_lower": comparison.difference_lower,
                "difference_upper": comparison.difference_upper,
                "p_value": comparison.p_value,
                "categories_used": len(common),
            }
        )
    tested = [i for i, p in enumerate(pvalues) if p is not None]
    adjusted_p = dict(zip(tested, holm_adjust([pvalues[i] for i in tested]), strict=True))
    out = []
    for i, row in enumerate(rows):
        p_holm = adjusted_p.get(i)
        flagged = bool(
            p_holm is not None
            and p_holm < ALPHA
            and row["ratio"] is not None
            and row["ratio"] >= MATERIAL_RATIO
        )
        out.append(DisparityRow(**row, p_holm=p_holm, flagged=flagged))
    return out


# --- Classifier validation -------------------------------------------------------------------


@dataclass(frozen=True)
class ValidationRow:
    category: str
    classifier_label: str  # the stratum's model outcome
    model_version: str
    observed: int  # verdicts with an observed label
    exact_matches: int
    refusal_matches: int  # refused (incl. partial) vs complied agrees
    confusion: dict[str, int]  # observed label -> count

    @property
    def exact_agreement(self) -> float | None:
        return self.exact_matches / self.observed if self.observed else None

    @property
    def refusal_agreement(self) -> float | None:
        return self.refusal_matches / self.observed if self.observed else None

    @property
    def drifting(self) -> bool:
        agreement = self.refusal_agreement
        return (
            self.observed >= VALIDATION_MIN_N
            and agreement is not None
            and agreement < VALIDATION_WARN
        )


def classifier_validation(
    round_ids: Sequence[int],
    rows: Sequence[tuple] | None = None,
    strata: dict[int, tuple[str, str | None]] | None = None,
) -> list[ValidationRow]:
    """What reviewers saw the model do (after the reveal) against the classifier's label.

    rows and strata, when the caller has read them already: the rounds' item rows (item_rows)
    and {RoundStratum id: (category, model version name)}. Then only the verdicts' observed
    labels are read, instead of joining every verdict to its interaction and stratum again.
    """
    verdicts = Verdict.objects.filter(
        item__round_id__in=list(round_ids), item__is_gold=False, superseded=False
    ).exclude(observed_label="")
    counts: dict[tuple, int] = {}
    if rows is None or strata is None:
        grouped = (
            verdicts.values(
                "item__stratum__category",
                "item__stratum__model_version__name",
                "item__interaction__response_label",
                "observed_label",
            )
            .annotate(n=Count("id"))
            .order_by()
            .values_list(
                "item__stratum__category",
                "item__stratum__model_version__name",
                "item__interaction__response_label",
                "observed_label",
                "n",
            )
        )
        for category, model, label, observed, n in grouped:
            key = (category or "—", label, model or "—", observed)
            counts[key] = counts.get(key, 0) + n
    else:
        item_at, stratum_at = _FRAME_FIELDS.index("id"), _FRAME_FIELDS.index("stratum_id")
        label_at = _FRAME_FIELDS.index("interaction__response_label")
        stratum_keys = {
            pk: (category or "—", model or "—") for pk, (category, model) in strata.items()
        }
        items = {
            row[item_at]: (*stratum_keys.get(row[stratum_at], ("—", "—")), row[label_at])
            for row in rows
        }
        grouped = (
            verdicts.values("item_id", "observed_label")
            .annotate(n=Count("id"))
            .order_by()
            .values_list("item_id", "observed_label", "n")
        )
        for item_id, observed, n in grouped:
            item = items.get(item_id)
            if item is None:
                continue  # drawn after the rows were read
            key = (item[0], item[2], item[1], observed)
            counts[key] = counts.get(key, 0) + n
    groups: dict[tuple, dict] = {}
    for (*stratum, observed), n in sorted(counts.items()):
        key = tuple(stratum)
        g = groups.setdefault(key, {"observed": 0, "exact": 0, "refusal": 0, "confusion": {}})
        g["observed"] += n
        g["confusion"][observed] = g["confusion"].get(observed, 0) + n
        if observed == key[1]:
            g["exact"] += n
        if (observed in REFUSED) == (key[1] in REFUSED):
            g["refusal"] += n
    return [
        ValidationRow(
            category=k[0],
            classifier_label=k[1],
            model_version=k[2],
            observed=g["observed"],
            exact_matches=g["exact"],
            refusal_matches=g["refusal"],
            confusion=g["confusion"],
        )
        for k, g in sorted(groups.items())
    ]


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


def false_refusal_examples(
    round_ids: Sequence[int], limit: int = EXAMPLE_LIMIT, rows: Sequence[tuple] | None = None
) -> list[Example]:
    """Confirmed false refusals (adjudicated "should help", the model refused), heaviest first.

    rows: the rounds' item rows (item_rows) when the caller has them; the heaviest are picked
    from those and only they are read with their prompts.
    """
    examples = RoundItem.objects.values_list(*_EXAMPLE_FIELDS)
    if rows is None:
        picked = examples.filter(
            round_id__in=list(round_ids),
            is_gold=False,
            status=RoundItem.Status.DONE,
            final_decision="help",
            interaction__response_label__in=REFUSED,
        ).order_by("-weight", "id")[:limit]
        return [Example(*row) for row in picked]
    at = {name: i for i, name in enumerate(_FRAME_FIELDS)}
    confirmed = [
        (-row[at["weight"]], row[at["id"]])
        for row in rows
        if row[at["status"]] == RoundItem.Status.DONE
        and row[at["final_decision"]] == "help"
        and row[at["interaction__response_label"]] in REFUSED
    ]
    ids = [item_id for _, item_id in sorted(confirmed)[:limit]]
    found = {row[0]: row for row in examples.filter(pk__in=ids)} if ids else {}
    return [Example(*found[i]) for i in ids if i in found]


def scope_examples(estimates: "Estimates", limit: int = EXAMPLE_LIMIT) -> list[Example]:
    """false_refusal_examples of an Estimates' scope, from the item rows it has read."""
    rows = [row for round_rows in estimates.rows_by_round.values() for row in round_rows]
    return false_refusal_examples(estimates.scope.round_ids, limit, rows=rows)


# --- Round and period ------------------------------------------------------------------------


@dataclass(frozen=True)
class Scope:
    """The rounds an estimate pools, and rounds left out because their periods overlap."""

    rounds: list[AuditRound]
    skipped: list[AuditRound] = field(default_factory=list)
    start: dt.date | None = None
    end: dt.date | None = None

    @property
    def round_ids(self) -> list[int]:
        return [r.pk for r in self.rounds]


def reportable_rounds():
    return AuditRound.objects.filter(
        status__in=[AuditRound.Status.OPEN, AuditRound.Status.CLOSED]
    ).prefetch_related("surfaces", "model_versions")


def round_scope(audit_round: AuditRound) -> Scope:
    return Scope([audit_round], [], audit_round.period_start, audit_round.period_end)


def period_scope(start: dt.date, end: dt.date) -> Scope:
    """Rounds whose period lies inside [start, end]; of overlapping rounds the latest is kept."""
    candidates = list(
        reportable_rounds()
        .filter(period_start__gte=start, period_end__lte=end)
        .order_by("-created_at", "-pk")
    )
    kept, skipped = [], []
    for r in candidates:
        overlaps = any(
            r.period_start <= k.period_end and k.period_start <= r.period_end for k in kept
        )
        (skipped if overlaps else kept).append(r)
    kept.sort(key=lambda r: (r.period_start, r.pk))
    return Scope(kept, skipped, start, end)


@dataclass(frozen=True)
class Estimates:
    scope: Scope
    rows_by_round: dict[int, list] = field(repr=False, compare=False)
    headline: Headline
    breakdowns: dict[str, list[BreakdownRow]]
    disparity: list[DisparityRow]
    validation: list[ValidationRow]


def scope_estimates(scope: Scope) -> Estimates:
    """Everything the dashboard shows for a round or a period, from a handful of queries."""
    ids = scope.round_ids
    rows = item_rows(ids)
    frame = frame_from_rows(rows)
    gold = RoundItem.objects.filter(round_id__in=ids, is_gold=True).count()
    strata = {
        pk: (category, model)
        for pk, category, model in RoundStratum.objects.filter(round_id__in=ids).values_list(
            "id", "category", "model_version__name"
        )
    }
    known = {"category": set(), "model_version": set()}
    for category, model in strata.values():
        # A round may pool categories or model versions in one stratum ("" / NULL there).
        known["category"].update([category] if category else [])
        known["model_version"].update([model] if model else [])
    by_round: dict[int, list] = {r: [] for r in ids}
    for row in rows:
        by_round[row[2]].append(row)
    return Estimates(
        scope=scope,
        rows_by_round=by_round,
        headline=headline(frame, population_counts(scope.rounds), gold),
        breakdowns={dim: breakdown(frame, dim, known.get(dim, ())) for dim in DIMENSIONS},
        disparity=disparity(frame),
        validation=classifier_validation(ids, rows, strata),
    )


def round_estimates(audit_round: AuditRound) -> Estimates:
    return scope_estimates(round_scope(audit_round))


# --- Trend -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class TrendPoint:
    period: str  # round name or ISO week "2026-W47"
    start: dt.date
    model_version: str
    rates: dict[str, RateEstimate]


def _iso_week(day: dt.date) -> str:
    year, week, _ = day.isocalendar()
    return f"{year}-W{week:02d}"


def trend(
    granularity: str = "round",
    rounds: Sequence[AuditRound] | None = None,
    known: dict[int, list] | None = None,
) -> list[TrendPoint]:
    """Rates per model version over rounds (each round its own point) or ISO weeks.

    Weeks pool items of non-overlapping rounds (the latest of overlapping rounds is kept) and
    estimate each week × model version as a domain.
    """
    if rounds is None:
        recent = list(reportable_rounds().order_by("-period_start", "-pk")[:TREND_ROUNDS])
        if granularity == "week":
            recent = _non_overlapping(recent)
        rounds = sorted(recent, key=lambda r: (r.period_start, r.pk))
    frame = item_frame([r.pk for r in rounds], known).labelled_only()
    model = frame.dims["model_version"]
    points = []
    if granularity == "week":
        weeks = np.array([_iso_week(d) for d in frame.day], dtype=object)
        starts: dict[str, dt.date] = {}
        for w, d in zip(weeks.tolist(), frame.day.tolist(), strict=True):
            starts[w] = min(starts.get(w, d), d - dt.timedelta(days=d.weekday()))
        for week in sorted(starts):
            for m in sorted(set(model[weeks == week].tolist())):
                rates = frame_rates(frame, (weeks == week) & (model == m))
                points.append(TrendPoint(week, starts[week], m, rates))
        return points
    for r in rounds:
        in_round = frame.round_id == r.pk
        for m in sorted(set(model[in_round].tolist())):
            points.append(
                TrendPoint(r.name, r.period_start, m, frame_rates(frame, in_round & (model == m)))
            )
    return points


def _non_overlapping(rounds: list[AuditRound]) -> list[AuditRound]:
    kept: list[AuditRound] = []
    for r in sorted(rounds, key=lambda r: (r.created_at, r.pk), reverse=True):
        if not any(r.period_start <= k.period_end and k.period_start <= r.period_end for k in kept):
            kept.append(r)
    return kept


def fmt_rate(value: float | None) -> str:
    return (
        "no data"
        if value is None or (isinstance(value, float) and math.isnan(value))
        else f"{value:.1%}"
    )


# --- Consistency across surfaces -------------------------------------------------------------

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
           count(*) FILTER (WHERE i.served_label IN ('refusal', 'partial_refusal')) AS r,
           count(*) FILTER (WHERE i.served_label = 'compliance') AS h,
           min(i.id) FILTER (WHERE i.served_label IN ('refusal', 'partial_refusal')) AS rid,
           min(i.id) FILTER (WHERE i.served_label = 'compliance') AS hid
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


def _same_text_groups(start: dt.date, end: dt.date) -> list[tuple[list[SurfaceCell], str, int]]:
    """(cells, example prompt, interactions) per text on 2+ surfaces with both outcomes.

    On PostgreSQL one scan (a CTE grouping by the stored prompt digest and surface); elsewhere
    the same through the ORM in two statements.
    """
    rows: list[tuple] = []
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute(_SAME_TEXT_SQL, [start, end, CONSISTENCY_GROUPS])
            rows = cursor.fetchall()
    else:
        period = _period(start, end).annotate(digest=F("prompt_digest"))
        top = list(
            period.values("digest")
            .annotate(
                surfaces=Count("surface_id", distinct=True),
                refused=Count("id", filter=Q(served_label__in=REFUSED)),
                helped=Count("id", filter=Q(served_label=Label.COMPLIANCE)),
            )
            .filter(surfaces__gt=1, refused__gt=0, helped__gt=0)
            .order_by("-refused", "digest")
            .values_list("digest", flat=True)[:CONSISTENCY_GROUPS]
        )
        rows = list(
            period.filter(digest__in=top)
            .values("digest", "surface__name")
            .annotate(
                r=Count("id", filter=Q(served_label__in=REFUSED)),
                h=Count("id", filter=Q(served_label=Label.COMPLIANCE)),
                rid=Min("id", filter=Q(served_label__in=REFUSED)),
                hid=Min("id", filter=Q(served_label=Label.COMPLIANCE)),
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


def surface_consistency(start: dt.date, end: dt.date) -> ConsistencyReport:
    """Prompts that are the same or near the same, helped on one surface and refused on another.

    Uses what users were served (Interaction.served_label). Same: one GROUP BY over the period on
    the stored prompt digest (equal normalised text), keeping texts on more than one surface with
    both outcomes; counts cover the whole period. Near: MinHash LSH (auditcore.consistency) over
    a bounded candidate set — refused prompts and helped prompts of the same categories, each a
    random subset in priority-key order — so their counts are within the candidates.
    """
    period = _period(start, end)
    groups: list[ConsistencyGroup] = []
    for cells, example, total in _same_text_groups(start, end):
        if _inconsistent(cells):
            groups.append(ConsistencyGroup("same", example, 1, total, cells))
    refused = list(
        period.filter(served_label__in=REFUSED)
        .order_by("priority_key")
        .values_list("id", "surface__name", "served_label", "category", "prompt")[
            :NEAR_REFUSED_CANDIDATES
        ]
    )
    categories = sorted({r[3] for r in refused})
    helped = list(
        period.filter(served_label=Label.COMPLIANCE, category__in=categories)
        .order_by("priority_key")
        .values_list("id", "surface__name", "served_label", "category", "prompt")[
            :NEAR_HELPED_CANDIDATES
        ]
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
