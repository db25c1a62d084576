"""The estimate frame: a round's sampled items as arrays, and the figures computed from them.

Plain data in and out, so the arithmetic is tested without a database; the selectors
(auditcore.selectors.estimates) read the rows and the strata. The rates themselves are
auditcore.rates (STATISTICS.md "Estimating a rate"). Per item:

- the final call: help / decline (respondents); unsure, pending and awaiting adjudication are
  nonresponse within their stratum (auditcore.rates reweights and collapses);
- what the model did and what the user was served: what reviewers observed after the lock
  (observed_label / observed_served_label, set when observations agree or by a lead); when the
  gateway left the answer alone (action "none") the served answer is the model's. The
  classifier's labels stand in only for items nobody observed (or whose observations disagree
  and wait for a lead), and those are counted so the page can say how many;
- d = 1/π from the stored inclusion probability, never the stored (calibrated) weight.

Disparity between user segments compares the served false-refusal rate of each segment with that
of all other segments, adjusted for category mix by direct standardisation: inside each domain
the weights of a category are rescaled so that the domain's should-help traffic has the overall
category mix (over the categories both domains have). A segment is compared only when it and
the rest each have 30 respondents and together 5 events (auditcore.rates.compare_domains);
p-values are Holm-adjusted over the segments compared.
"""

import datetime as dt
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np

from auditcore import rates as ra
from auditcore import sampling
from auditcore.stats import RateEstimate, estimate_rate

REFUSED = ra.REFUSED
LAYERS = ra.LAYERS
# RoundItem.Status.DONE and GatewayAction.NONE, as stored (tests/auditcore/test_estimate_frame.py
# holds them equal to the models' choices).
DONE = "done"
UNTOUCHED = "none"
# A segment is flagged when it is refused at least this many times as often as the others, with
# a Holm-adjusted p below ALPHA.
MATERIAL_RATIO = 1.25
ALPHA = 0.05
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


# An item row as the selectors read it (RoundItem.values_list paths), in this order.
FRAME_FIELDS = (
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


_PI, _STRATUM = FRAME_FIELDS.index("inclusion_probability"), FRAME_FIELDS.index("stratum_id")


def rows_in_combined_design(
    rows: list[tuple],
    first_strata: dict[int, tuple[int, str, float | None]],
    combined: dict[tuple[int, str], tuple[int, float | None]],
) -> list[tuple]:
    """Rows of first-round items moved into the combined design of their round and supplement.

    first_strata: {first round's stratum id: (round id, stratum key, τ)}; combined: {(first
    round id, stratum key): (the supplement's stratum id, its τ)}.
    """
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
    elif model_observed and gateway_action == UNTOUCHED:
        served_label, served_observed = observed, True
    else:
        served_label, served_observed = served, False
    return (observed or model), served_label, model_observed, served_observed


def frame_from_rows(rows: Sequence[tuple]) -> ItemFrame:
    """Build the arrays from rows shaped like FRAME_FIELDS (plain data: testable without a DB)."""
    n = len(rows)
    cols = list(zip(*rows, strict=True)) if n else [() for _ in FRAME_FIELDS]
    (ids, interaction_ids, round_ids, strata, pis, status, final, observed, observed_served,
     disputed, model_label, served_label, gateway, importance, days, category, surface, model,
     segment, _weights) = cols  # fmt: skip
    parts = (observed, observed_served, gateway, model_label, served_label)
    resolved = [resolve_labels(*values) for values in zip(*parts, strict=True)]
    labels = list(zip(*resolved, strict=True)) if n else [(), (), (), ()]
    status_a = np.array(status, dtype=object)
    final_a = np.array(final, dtype=object)
    done = status_a == DONE
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


# --- Strata and headline ----------------------------------------------------------------------


@dataclass(frozen=True)
class StratumRef:
    key: str
    round_id: int
    category: str
    outcome: str
    model_version: str


@dataclass(frozen=True)
class Collapsed:
    """A stratum with sampled items but no respondent, and where its weight went."""

    stratum: str
    into: str | None  # None: no neighbour of the same category and outcome had respondents


def collapsed(collapses: Iterable[ra.Collapse], refs: dict[int, StratumRef]) -> list[Collapsed]:
    def name(pk: int | None) -> str | None:
        if pk is None:
            return None
        ref = refs.get(pk)
        return ref.key if ref else "items drawn outside any stratum"

    return [Collapsed(name(c.stratum) or "", name(c.into)) for c in collapses]


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
        collapsed=collapsed(respondents.collapses, refs),
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


def validation_rows(
    rows: Sequence[tuple],
    strata: dict[int, tuple[str, str | None]],
    observations: Iterable[tuple[int, str, str, int]],
    layer: str,
) -> list[ValidationRow]:
    """The classifier's label against what reviewers observed, per category × label × model.

    rows: item rows shaped like FRAME_FIELDS; strata: {stratum id: (category, model version)};
    observations: (item id, observed model label, observed served label, verdicts) per item.
    """
    at = {name: i for i, name in enumerate(FRAME_FIELDS)}
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
    counts: dict[tuple, int] = {}
    for item_id, observed_model, observed_served, n in observations:
        item = items.get(item_id)
        if item is None:
            continue  # drawn after the rows were read
        category, model, label, gateway = item
        observed = observed_model
        if layer == "served":
            untouched = gateway == UNTOUCHED
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


def heaviest_false_refusals(
    rows: Sequence[tuple], layer: str, limit: int
) -> tuple[list[int], dict[int, str]]:
    """The item ids of the heaviest confirmed false refusals at `layer`, and each one's cause.

    "Refused" is what reviewers observed, the classifier's label only where nobody did. At the
    served layer a refusal the model never gave is the gateway's (cause "gateway").
    """
    at = {name: i for i, name in enumerate(FRAME_FIELDS)}
    confirmed, causes = [], {}
    for row in rows:
        if row[at["status"]] != DONE or row[at["final_decision"]] != "help":
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
    return [item_id for _, item_id in sorted(confirmed)[:limit]], causes


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


def weekly_trend(frame: ItemFrame, respondents: ra.Respondents) -> list[TrendPoint]:
    """One point per ISO week × model version, each estimated as a domain."""
    keep = respondents.keep
    model = frame.dims["model_version"][keep]
    days = frame.day[keep]
    points = []
    weeks = np.array([_iso_week(d) for d in days], dtype=object)
    starts: dict[str, dt.date] = {}
    for w, d in zip(weeks.tolist(), days.tolist(), strict=True):
        starts[w] = min(starts.get(w, d), d - dt.timedelta(days=d.weekday()))
    for week in sorted(starts):
        for m in sorted(set(model[weeks == week].tolist())):
            layers = respondents.layers((weeks == week) & (model == m))
            points.append(TrendPoint(week, starts[week], m, layers))
    return points


def round_trend(
    frame: ItemFrame, respondents: ra.Respondents, rounds: Sequence[tuple[int, str, dt.date]]
) -> list[TrendPoint]:
    """One point per round × model version, in the order of rounds: (id, name, period start)."""
    keep = respondents.keep
    model = frame.dims["model_version"][keep]
    round_id = frame.round_id[keep]
    points = []
    for pk, name, start in rounds:
        in_round = round_id == pk
        for m in sorted(set(model[in_round].tolist())):
            layers = respondents.layers(in_round & (model == m))
            points.append(TrendPoint(name, start, m, layers))
    return points
