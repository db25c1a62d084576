"""Design-weighted estimates for the two-axis dashboard: false refusals next to true refusals.

The rates and their arithmetic are auditcore.rates (STATISTICS.md "Estimating a rate"): frr, trr,
partial_share, wrong_refusal_share and missed_harm, each at the served layer (what users got,
shown first) and the model layer. This module reads a round's items and resolves, per item:

- the final call: help / decline (respondents); unsure, pending and awaiting adjudication are
  nonresponse within their stratum (auditcore.rates reweights and collapses);
- what the model did and what the user was served: what reviewers observed after the lock
  (RoundItem.observed_label / observed_served_label, set when observations agree or by a lead);
  when the gateway left the answer alone (action "none") the served answer is the model's. The
  classifier's labels stand in only for items nobody observed (or whose observations disagree
  and wait for a lead), and those are counted so the page can say how many;
- d = 1/π from the stored inclusion probability, never the stored (calibrated) weight.

Gold items are never part of an estimate. Items of several rounds are pooled with each round's
strata kept apart, so a period is the union of non-overlapping rounds.

Disparity between user segments compares the served false-refusal rate of each segment with that
of all other segments, adjusted for category mix by direct standardisation: inside each domain
the weights of a category are rescaled so that the domain's should-help traffic has the overall
category mix (over the categories both domains have). A segment is compared only when it and
the rest each have 30 respondents and together 5 events (auditcore.rates.compare_domains);
p-values are Holm-adjusted over the segments compared.
"""

import datetime as dt
import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

import numpy as np
from django.db.models import Count, Q, Sum

from auditcore import rates as ra
from auditcore import sampling
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
from auditcore.stats import RateEstimate, estimate_rate

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
    stratum: np.ndarray  # RoundStratum ids; a round's stray items share one negative id
    pi: np.ndarray
    help: np.ndarray
    decline: np.ndarray
    unsure: np.ndarray
    pending: np.ndarray  # not final yet (waiting for verdicts or for adjudication)
    model_label: np.ndarray  # observed, else the classifier's
    served_label: np.ndarray
    model_observed: np.ndarray
    served_observed: np.ndarray
    disputed: np.ndarray  # observations disagree and no lead has settled them
    importance: np.ndarray  # session importance
    day: np.ndarray  # datetime.date objects
    dims: dict[str, np.ndarray]

    def __len__(self) -> int:
        return len(self.item_id)

    @property
    def respondents(self) -> np.ndarray:
        return self.help | self.decline

    def sample(self) -> ra.Sample:
        return ra.Sample(
            stratum=self.stratum,
            pi=self.pi,
            help=self.help,
            decline=self.decline,
            model_label=self.model_label,
            served_label=self.served_label,
            size=self.importance,
        )


_FRAME_FIELDS = (
    "id",
    "interaction_id",
    "round_id",
    "stratum_id",
    "inclusion_probability",
    "status",
    "final_decision",
    "observed_label",
    "observed_served_label",
    "observation_disputed",
    "interaction__response_label",
    "interaction__served_label",
    "interaction__gateway_action",
    "interaction__session_importance",
    "interaction__day",
    "interaction__category",
    "interaction__surface__name",
    "interaction__model_version__name",
    "interaction__user_segment",
    "weight",
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
    """Every non-gold item of the rounds; a round read with its supplement gets their combined
    design (see _combine_supplements)."""
    rows = list(
        RoundItem.objects.filter(round_id__in=list(round_ids), is_gold=False)
        .order_by("id")
        .values_list(*_FRAME_FIELDS)
    )
    return _combine_supplements(rows, round_ids) if len(round_ids) > 1 else rows


_PI, _STRATUM = _FRAME_FIELDS.index("inclusion_probability"), _FRAME_FIELDS.index("stratum_id")


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
    out = []
    for row in rows:
        first = first_strata.get(row[_STRATUM])
        target = combined.get(first[:2]) if first else None
        if target is not None:
            row = list(row)
            row[_PI] = sampling.combined_inclusion(row[_PI], first[2], target[1])
            row[_STRATUM] = target[0]
            row = tuple(row)
        out.append(row)
    return out


def resolve_labels(
    observed: str, observed_served: str, gateway_action: str, model: str, served: str
) -> tuple[str, str, bool, bool]:
    """(model label, served label, model observed, served observed) of one item.

    Observed labels win; an untouched answer (gateway action "none") was served as the model
    gave it; the classifier's labels stand in for what nobody observed.
    """
    model_observed = bool(observed)
    if observed_served:
        served_label, served_observed = observed_served, True
    elif model_observed and gateway_action == GatewayAction.NONE:
        served_label, served_observed = observed, True
    else:
        served_label, served_observed = served, False
    return (observed or model), served_label, model_observed, served_observed


def frame_from_rows(rows: Sequence[tuple]) -> ItemFrame:
    """Build the arrays from rows shaped like _FRAME_FIELDS (plain data: testable without a DB)."""
    n = len(rows)
    cols = list(zip(*rows, strict=True)) if n else [() for _ in _FRAME_FIELDS]
    (ids, interaction_ids, round_ids, strata, pis, status, final, observed, observed_served,
     disputed, model_label, served_label, gateway, importance, days, category, surface, model,
     segment, _weights) = cols  # fmt: skip
    parts = (observed, observed_served, gateway, model_label, served_label)
    resolved = [resolve_labels(*values) for values in zip(*parts, strict=True)]
    labels = list(zip(*resolved, strict=True)) if n else [(), (), (), ()]
    status_a = np.array(status, dtype=object)
    final_a = np.array(final, dtype=object)
    done = status_a == RoundItem.Status.DONE
    # Items drawn outside any stratum share one stratum per round (negative keys never clash).
    stratum = np.array(
        [s if s is not None else -r for s, r in zip(strata, round_ids, strict=True)], dtype=np.int64
    )
    return ItemFrame(
        item_id=np.array(ids, dtype=np.int64),
        interaction_id=np.array(interaction_ids, dtype=np.int64),
        round_id=np.array(round_ids, dtype=np.int64),
        stratum=stratum,
        pi=np.array(pis, dtype=float),
        help=done & (final_a == "help"),
        decline=done & (final_a == "decline"),
        unsure=done & (final_a == "unsure"),
        pending=~done,
        model_label=np.array(labels[0], dtype=object),
        served_label=np.array(labels[1], dtype=object),
        model_observed=np.array(labels[2], dtype=bool),
        served_observed=np.array(labels[3], dtype=bool),
        disputed=np.array(disputed, dtype=bool),
        importance=np.array(importance, dtype=float),
        day=np.array(days, dtype=object),
        dims={
            "category": np.array(category, dtype=object),
            "surface": np.array(surface, dtype=object),
            "model_version": np.array(model, dtype=object),
            "user_segment": np.array(segment, dtype=object),
        },
    )


# --- Strata ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class StratumRef:
    key: str
    round_id: int
    category: str
    outcome: str
    model_version: str


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


@dataclass(frozen=True)
class Collapsed:
    """A stratum with sampled items but no respondent, and where its weight went."""

    stratum: str
    into: str | None  # None: no neighbour of the same category and outcome had respondents


def _collapsed(collapses: Iterable[ra.Collapse], refs: dict[int, StratumRef]) -> list[Collapsed]:
    def name(pk: int | None) -> str | None:
        if pk is None:
            return None
        ref = refs.get(pk)
        return ref.key if ref else "items drawn outside any stratum"

    return [Collapsed(name(c.stratum) or "", name(c.into)) for c in collapses]


# --- Headline --------------------------------------------------------------------------------


@dataclass(frozen=True)
class Population:
    """Counts from StratumCount (the classifier's model-layer outcome, exact, no sampling)."""

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
    layers: dict[str, dict[str, RateEstimate]]  # layer -> rate -> estimate
    impact_frr: dict[str, RateEstimate]  # layer -> frr weighted by session importance
    sampled: int
    respondents: int  # final help / decline
    unsure: int
    pending: int
    gold: int
    unobserved_model: int  # respondents whose model answer nobody observed (classifier used)
    unobserved_served: int
    disputed: int  # respondents whose observations disagree, waiting for a lead
    collapsed: list[Collapsed]

    @property
    def completed(self) -> float | None:
        """Share of the round's sampled items that are final (help, decline or unsure)."""
        return (self.respondents + self.unsure) / self.sampled if self.sampled else None


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


def _share(frame: ItemFrame, y: np.ndarray) -> RateEstimate:
    return estimate_rate(1.0 / frame.pi, np.ones(len(frame), dtype=bool), y, frame.stratum)


def headline(
    frame: ItemFrame,
    respondents: ra.Respondents,
    population: Population,
    gold: int,
    refs: dict[int, StratumRef],
) -> Headline:
    model_refused = np.isin(frame.model_label, REFUSED)
    served_refused = np.isin(frame.served_label, REFUSED)
    answered = frame.respondents
    return Headline(
        population=population,
        model_refused_share=_share(frame, model_refused),
        served_refused_share=_share(frame, served_refused),
        gateway_added_share=_share(frame, gateway_added(frame)),
        layers=respondents.layers(),
        impact_frr={layer: respondents.estimate("frr", layer, impact=True) for layer in LAYERS},
        sampled=len(frame),
        respondents=int(answered.sum()),
        unsure=int(frame.unsure.sum()),
        pending=int(frame.pending.sum()),
        gold=gold,
        unobserved_model=int(np.sum(answered & ~frame.model_observed)),
        unobserved_served=int(np.sum(answered & ~frame.served_observed)),
        disputed=int(np.sum(answered & frame.disputed)),
        collapsed=_collapsed(respondents.collapses, refs),
    )


# --- Breakdowns ------------------------------------------------------------------------------


@dataclass(frozen=True)
class BreakdownRow:
    value: str
    sampled: int
    respondents: int
    unsure: int
    layers: dict[str, dict[str, RateEstimate]]
    # Of the value's sampled traffic, the share served a refusal the model never gave.
    gateway_added: RateEstimate


def gateway_added(frame: ItemFrame) -> np.ndarray:
    """Served refused (incl. partially) where the model complied: the gateway refused."""
    return np.isin(frame.served_label, REFUSED) & ~np.isin(frame.model_label, REFUSED)


def breakdown(
    frame: ItemFrame, respondents: ra.Respondents, dimension: str, values: Iterable[str] = ()
) -> list[BreakdownRow]:
    """One row per value of a dimension (plus `values` that have no sampled items: "no data")."""
    column = frame.dims[dimension]
    answered = column[respondents.keep]
    added = gateway_added(frame)
    rows = []
    for value in sorted(set(column.tolist()) | set(values)):
        rows.append(
            BreakdownRow(
                value=value,
                sampled=int(np.sum(column == value)),
                respondents=int(np.sum(answered == value)),
                unsure=int(np.sum((column == value) & frame.unsure)),
                layers=respondents.layers(answered == value),
                gateway_added=estimate_rate(1.0 / frame.pi, column == value, added, frame.stratum),
            )
        )
    return rows


# --- Disparity -------------------------------------------------------------------------------


@dataclass(frozen=True)
class DisparityRow:
    segment: str
    respondents: int  # the segment's should-help respondents
    others_respondents: int
    events: int  # refusals of should-help traffic, both sides together
    comparable: bool  # enough respondents and events to compare at all
    note: str  # "too few to compare" when not comparable
    rate: RateEstimate  # crude false-refusal rate at the layer asked for
    adjusted_rate: RateEstimate  # standardised to the overall should-help category mix
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


def disparity(
    frame: ItemFrame, respondents: ra.Respondents, layer: str = "served"
) -> list[DisparityRow]:
    """Each user segment's false-refusal rate (at `layer`) against all other segments."""
    z, y = ra.rate_arrays(respondents.labels[layer], respondents.help, respondents.decline, "frr")
    segment = frame.dims["user_segment"][respondents.keep]
    category = frame.dims["category"][respondents.keep]
    d, strata = respondents.weight, respondents.stratum
    inclusion = 1.0 / d
    overall = {c: float(np.sum(d[z & (category == c)])) for c in sorted(set(category[z].tolist()))}
    rows, comparisons = [], []
    for value in sorted(set(frame.dims["user_segment"].tolist())):
        mine, others = segment == value, segment != value
        common = set(category[z & mine].tolist()) & set(category[z & others].tolist())
        mass = sum(overall[c] for c in common)
        mix = {c: overall[c] / mass for c in common} if mass else {}
        adjusted = standardised_weights(d, z, category, mine, mix)
        adjusted = standardised_weights(adjusted, z, category, others, mix)
        used = adjusted > 0
        z1, z2 = z & mine & used, z & others & used
        comparison = ra.compare_domains(adjusted, z1, z2, y, strata, inclusion)
        comparisons.append(comparison)
        result = comparison.result
        rows.append(
            {
                "segment": value,
                "respondents": int(np.sum(z & mine)),
                "others_respondents": int(np.sum(z & others)),
                "events": int(np.sum(z & y)),
                "comparable": comparison.comparable,
                "note": comparison.note,
                "rate": estimate_rate(d, z & mine, y, strata, inclusion=inclusion),
                "adjusted_rate": estimate_rate(adjusted, z1, y, strata, inclusion=inclusion),
                "others_adjusted_rate": estimate_rate(adjusted, z2, y, strata, inclusion=inclusion),
                "ratio": result.ratio if result else None,
                "ratio_lower": result.ratio_lower if result else None,
                "ratio_upper": result.ratio_upper if result else None,
                "difference": result.difference if result else None,
                "difference_lower": result.difference_lower if result else None,
                "difference_upper": result.difference_upper if result else None,
                "p_value": result.p_value if result else None,
                "categories_used": len(common),
            }
        )
    adjusted_p = ra.holm_over(comparisons)
    out = []
    for row, p_holm in zip(rows, adjusted_p, strict=True):
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
    at = {name: i for i, name in enumerate(_FRAME_FIELDS)}
    label_at = at[f"interaction__{'response' if layer == 'model' else 'served'}_label"]
    stratum_keys = {pk: (category or "—", model or "—") for pk, (category, model) in strata.items()}
    items = {
        row[at["id"]]: (
            *stratum_keys.get(row[at["stratum_id"]], ("—", "—")),
            row[label_at],
            row[at["interaction__gateway_action"]],
        )
        for row in rows
    }
    grouped = (
        Verdict.objects.filter(
            item__round_id__in=list(round_ids), item__is_gold=False, superseded=False
        )
        .exclude(observed_label="")
        .values("item_id", "observed_label", "observed_served_label")
        .annotate(n=Count("id"))
        .order_by()
        .values_list("item_id", "observed_label", "observed_served_label", "n")
    )
    counts: dict[tuple, int] = {}
    for item_id, observed_model, observed_served, n in grouped:
        item = items.get(item_id)
        if item is None:
            continue  # drawn after the rows were read
        category, model, label, gateway = item
        observed = observed_model
        if layer == "served":
            untouched = gateway == GatewayAction.NONE
            observed = observed_served or (observed_model if untouched else "")
            if not observed:
                continue
        key = (category, label, model, observed)
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
    at = {name: i for i, name in enumerate(_FRAME_FIELDS)}
    confirmed, causes = [], {}
    for row in rows:
        if row[at["status"]] != RoundItem.Status.DONE or row[at["final_decision"]] != "help":
            continue
        model, served, _, _ = resolve_labels(
            *(row[at[f]] for f in (
                "observed_label", "observed_served_label", "interaction__gateway_action",
                "interaction__response_label", "interaction__served_label",
            ))
        )  # fmt: skip
        cause = ra.refusal_cause(model, served if layer == "served" else model)
        if cause is not None:
            confirmed.append((-row[at["weight"]], row[at["id"]]))
            causes[row[at["id"]]] = cause
    ids = [item_id for _, item_id in sorted(confirmed)[:limit]]
    examples = RoundItem.objects.values_list(*_EXAMPLE_FIELDS)
    found = {row[0]: row for row in examples.filter(pk__in=ids)} if ids else {}
    return [Example(*found[i], cause=causes[i]) for i in ids if i in found]


def scope_examples(
    estimates: "Estimates", limit: int = EXAMPLE_LIMIT, layer: str = "served"
) -> list[Example]:
    """false_refusal_examples of an Estimates' scope, from the item rows it has read."""
    rows = [row for round_rows in estimates.rows_by_round.values() for row in round_rows]
    return false_refusal_examples(estimates.scope.round_ids, limit, rows=rows, layer=layer)


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
    rows_by_round: dict[int, list] = field(repr=False, compare=False)
    strata_by_round: dict[int, dict[int, ra.StratumInfo]] = field(repr=False, compare=False)
    headline: Headline
    breakdowns: dict[str, list[BreakdownRow]]
    disparity: list[DisparityRow]
    validation: list[ValidationRow]
    # The layer of the population count, disparity and validation (the breakdowns carry both).
    layer: str = "served"

    @property
    def layers(self) -> dict[str, dict[str, RateEstimate]]:
        return self.headline.layers


def scope_estimates(scope: Scope, layer: str = "served") -> Estimates:
    """Everything the dashboard shows for a round or a period, from a handful of queries.

    layer: "served" (what users got) or "model", for the figures shown at one layer only.
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
    strata_by_round: dict[int, dict[int, ra.StratumInfo]] = {r: {} for r in ids}
    for pk, ref in refs.items():
        strata_by_round[ref.round_id][pk] = info[pk]
    known = {"category": set(), "model_version": set()}
    for category, model in strata.values():
        # A round may pool categories or model versions in one stratum ("" / NULL there).
        known["category"].update([category] if category else [])
        known["model_version"].update([model] if model else [])
    # Rows are cached per round for the trend, which reads each round alone: a round combined
    # with its supplement here carries the combined design, so it is read again there.
    combined = {r.supplement_of_id for r in scope.rounds if r.supplement_of_id}
    by_round: dict[int, list] = {r: [] for r in ids if r not in combined}
    for row in rows:
        if row[2] in by_round:
            by_round[row[2]].append(row)
    return Estimates(
        scope=scope,
        rows_by_round=by_round,
        strata_by_round=strata_by_round,
        headline=headline(frame, respondents, population_counts(scope.rounds, layer), gold, refs),
        breakdowns={
            dim: breakdown(frame, respondents, dim, known.get(dim, ())) for dim in DIMENSIONS
        },
        disparity=disparity(frame, respondents, layer),
        validation=classifier_validation(ids, rows, strata, layer),
        layer=layer,
    )


def round_estimates(audit_round: AuditRound, layer: str = "served") -> Estimates:
    return scope_estimates(round_scope(audit_round), layer)


# --- Trend -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class TrendPoint:
    period: str  # round name or ISO week "2026-W47"
    start: dt.date
    model_version: str
    layers: dict[str, dict[str, RateEstimate]]


def _iso_week(day: dt.date) -> str:
    year, week, _ = day.isocalendar()
    return f"{year}-W{week:02d}"


def trend(
    granularity: str = "round",
    rounds: Sequence[AuditRound] | None = None,
    known: dict[int, list] | None = None,
    known_strata: dict[int, dict[int, ra.StratumInfo]] | None = None,
) -> list[TrendPoint]:
    """Rates per model version over rounds (each round its own point) or ISO weeks.

    Weeks pool items of non-overlapping rounds (the latest of overlapping rounds is kept) and
    estimate each week × model version as a domain. known / known_strata: item rows and strata
    already read, per round id.
    """
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
    keep = respondents.keep
    model = frame.dims["model_version"][keep]
    days = frame.day[keep]
    points = []
    if granularity == "week":
        weeks = np.array([_iso_week(d) for d in days], dtype=object)
        starts: dict[str, dt.date] = {}
        for w, d in zip(weeks.tolist(), days.tolist(), strict=True):
            starts[w] = min(starts.get(w, d), d - dt.timedelta(days=d.weekday()))
        for week in sorted(starts):
            for m in sorted(set(model[weeks == week].tolist())):
                layers = respondents.layers((weeks == week) & (model == m))
                points.append(TrendPoint(week, starts[week], m, layers))
        return points
    round_id = frame.round_id[keep]
    for r in rounds:
        in_round = round_id == r.pk
        for m in sorted(set(model[in_round].tolist())):
            layers = respondents.layers(in_round & (model == m))
            points.append(TrendPoint(r.name, r.period_start, m, layers))
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
