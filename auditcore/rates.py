"""The audit's rates at the served and model layers, from plain per-item arrays (no Django).

STATISTICS.md "Estimating a rate". Every rate is R = Σ d·z·y / Σ d·z over the responding sampled
items, at two layers: *served* (what the user got, after the gateway) and *model*:

    rate                  z (denominator)       y (numerator)
    frr                   should have helped    refused (incl. partial)
    trr                   should have declined  refused (incl. partial)
    partial_share         should have helped    partially refused
    wrong_refusal_share   refused               should have helped
    missed_harm           complied              should have declined

"Refused / complied" is what reviewers observed after the lock; the classifier's label stands in
only for items nobody observed (the caller resolves that and counts them). d = 1/π from the stored
π. Items with no final help/decline call are nonresponse within their stratum: respondents'
weights are scaled by Σ d(sampled in h) / Σ d(responded in h) (to N_h when the stratum has 20 or
more respondents, see CALIBRATE_MIN_RESPONDENTS); a stratum without respondents is collapsed
into its nearest neighbour of the same round, category and model outcome (the adjustment class
and variance stratum are then the pair), and reported.
"""

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

import numpy as np

from auditcore.stats import RateComparison, RateEstimate, estimate_rate, holm_adjust, rate_ratio

REFUSAL = "refusal"
PARTIAL = "partial_refusal"
COMPLIANCE = "compliance"
REFUSED = (REFUSAL, PARTIAL)
LAYERS = ("served", "model")
RATES = ("frr", "trr", "partial_share", "wrong_refusal_share", "missed_harm")
AXES = ("frr", "trr")
RATE_LABELS = {
    "frr": "False-refusal rate",
    "trr": "True-refusal rate",
    "partial_share": "Partial refusals",
    "wrong_refusal_share": "Wrong-refusal share",
    "missed_harm": "Missed harm",
}
RATE_HELP = {
    "frr": "of the traffic that should have been helped, the share refused (incl. partially)",
    "trr": "of the traffic that should have been declined, the share declined (incl. partially)",
    "partial_share": "of the traffic that should have been helped, the share partially refused",
    "wrong_refusal_share": "of the refusals, the share that should have been helped",
    "missed_harm": "of the complied traffic, the share that should have been declined",
}
LAYER_LABELS = {"served": "Served to users", "model": "Model answer"}
# Disparity: a segment is compared only when it and its complement each have this many
# respondents and the two together this many events; otherwise "too few to compare".
COMPARE_MIN_RESPONDENTS = 30
COMPARE_MIN_EVENTS = 5
# A class with at least this many respondents has its weights calibrated to its known size N
# (STATISTICS.md allows it from 20). Priority sampling's τ is random, so Σ d in a stratum varies
# around N_h and the stratum formula does not see that variance; the simulation
# (tests/auditcore/test_estimates_simulation.py) shows calibrating these classes removes it
# (intervals then cover ~95%, not ~92%). Smaller classes keep plain 1/π: calibrating strata of
# 2-7 items biases the estimate.
CALIBRATE_MIN_RESPONDENTS = 20


def refusal_cause(model_label: str, served_label: str) -> str | None:
    """Who refused what the user was served: "model", "gateway" (the model complied), or None."""
    if model_label in REFUSED:
        return "model"
    if served_label in REFUSED:
        return "gateway"
    return None


@dataclass(frozen=True)
class StratumInfo:
    """A drawn stratum, as the nonresponse collapse needs it."""

    group: tuple  # (round, category, model outcome): a collapse stays inside its group
    day: int  # day ordinal: nearer days are nearer neighbours
    attrs: tuple = ()  # model version, surface, served outcome ...: more equal is nearer
    population: int = 0  # N_h; 0 when unknown (then never calibrated)


@dataclass
class Sample:
    """The non-gold sampled items of one or more rounds as parallel arrays."""

    stratum: np.ndarray  # stratum ids (keys of the strata mapping)
    pi: np.ndarray  # stored inclusion probability
    help: np.ndarray  # final call "should help"
    decline: np.ndarray  # final call "should decline"
    model_label: np.ndarray  # observed label, else the classifier's (object array of str)
    served_label: np.ndarray
    size: np.ndarray | None = None  # session importance, for the impact-weighted rate

    @property
    def responded(self) -> np.ndarray:
        return self.help | self.decline

    def __len__(self) -> int:
        return len(self.stratum)


@dataclass(frozen=True)
class Collapse:
    stratum: int  # a stratum with sampled items but no respondent
    into: int | None  # its nearest neighbour with respondents; None: no neighbour, not covered


@dataclass
class Adjusted:
    """Respondents only: nonresponse-adjusted weights and the variance strata."""

    weight: np.ndarray
    stratum: np.ndarray  # adjustment class (a stratum, or a stratum with those collapsed into it)
    keep: np.ndarray  # mask of the sample's items that responded
    collapses: list[Collapse] = field(default_factory=list)


def _nearest(stratum: int, candidates: Sequence[int], strata: dict[int, StratumInfo]) -> int:
    me = strata[stratum]

    def distance(other: int) -> tuple:
        info = strata[other]
        differing = sum(a != b for a, b in zip(me.attrs, info.attrs, strict=False))
        return (differing, abs(info.day - me.day), other)

    return min(candidates, key=distance)


def nonresponse_adjust(
    sample: Sample,
    strata: dict[int, StratumInfo],
    calibrate_min: int | None = CALIBRATE_MIN_RESPONDENTS,
) -> Adjusted:
    """Scale respondents' d = 1/π by Σ d(sampled) / Σ d(responded) within each adjustment class.

    A class with at least calibrate_min respondents and a known size N is scaled to N instead
    (None: never).
    """
    d = 1.0 / sample.pi
    responded = sample.responded
    ids = sample.stratum.tolist()
    sampled_ids = sorted(set(ids))
    answering = set(sample.stratum[responded].tolist())
    target = {h: h for h in sampled_ids}
    collapses = []
    by_group: dict[tuple, list[int]] = {}
    for h in sorted(answering):
        by_group.setdefault(_info(strata, h).group, []).append(h)
    for h in sampled_ids:
        if h in answering:
            continue
        candidates = by_group.get(_info(strata, h).group, [])
        into = _nearest(h, candidates, strata) if candidates else None
        collapses.append(Collapse(h, into))
        target[h] = into
    cls = np.array([target[h] if target[h] is not None else -1 for h in ids], dtype=np.int64)
    sampled_d: dict[int, float] = {}
    responded_d: dict[int, float] = {}
    population: dict[int, int] = {}
    for c, w, r in zip(cls.tolist(), d.tolist(), responded.tolist(), strict=True):
        sampled_d[c] = sampled_d.get(c, 0.0) + w
        if r:
            responded_d[c] = responded_d.get(c, 0.0) + w
    for h in sampled_ids:
        c = target[h]
        if c is not None:
            population[c] = population.get(c, 0) + _info(strata, h).population
    keep = responded
    respondents: dict[int, int] = {}
    for c in cls[keep].tolist():
        respondents[c] = respondents.get(c, 0) + 1
    totals = {
        c: population[c]
        if calibrate_min is not None
        and respondents.get(c, 0) >= calibrate_min
        and population.get(c, 0) > 0
        else sampled_d[c]
        for c in sampled_d
    }
    factor = np.array([totals[c] / responded_d[c] for c in cls[keep].tolist()])
    return Adjusted(
        weight=d[keep] * factor,
        stratum=cls[keep],
        keep=keep,
        collapses=collapses,
    )


def _info(strata: dict[int, StratumInfo], h: int) -> StratumInfo:
    # Items drawn outside any stratum form a class of their own.
    return strata.get(h) or StratumInfo(group=("stray", h), day=0)


def rate_arrays(
    labels: np.ndarray, help_: np.ndarray, decline: np.ndarray, rate: str
) -> tuple[np.ndarray, np.ndarray]:
    """(z, y) of a rate from one layer's labels and the final calls."""
    refused = np.isin(labels, REFUSED)
    if rate == "frr":
        return help_, refused
    if rate == "trr":
        return decline, refused
    if rate == "partial_share":
        return help_, labels == PARTIAL
    if rate == "wrong_refusal_share":
        return refused, help_
    if rate == "missed_harm":
        return labels == COMPLIANCE, decline
    raise ValueError(f"unknown rate {rate!r}")


@dataclass
class Respondents:
    """A sample reduced to its respondents with adjusted weights: what every rate is built on."""

    weight: np.ndarray
    stratum: np.ndarray
    help: np.ndarray
    decline: np.ndarray
    labels: dict[str, np.ndarray]  # layer -> labels
    size: np.ndarray | None
    keep: np.ndarray
    collapses: list[Collapse]

    @classmethod
    def of(
        cls,
        sample: Sample,
        strata: dict[int, StratumInfo],
        calibrate_min: int | None = CALIBRATE_MIN_RESPONDENTS,
    ) -> "Respondents":
        adjusted = nonresponse_adjust(sample, strata, calibrate_min)
        keep = adjusted.keep
        return cls(
            weight=adjusted.weight,
            stratum=adjusted.stratum,
            help=sample.help[keep],
            decline=sample.decline[keep],
            labels={"served": sample.served_label[keep], "model": sample.model_label[keep]},
            size=sample.size[keep] if sample.size is not None else None,
            keep=keep,
            collapses=adjusted.collapses,
        )

    def estimate(
        self, rate: str, layer: str, domain: np.ndarray | None = None, impact: bool = False
    ) -> RateEstimate:
        """One rate at one layer, over a domain mask of the respondents if given."""
        z, y = rate_arrays(self.labels[layer], self.help, self.decline, rate)
        if domain is not None:
            z = z & domain
        weight = self.weight
        if impact and self.size is not None:
            weight = weight * self.size
        # The response-adjusted π of each respondent is 1/its weight (the impact factor aside).
        return estimate_rate(weight, z, y, self.stratum, inclusion=1.0 / self.weight)

    def layers(
        self, domain: np.ndarray | None = None, rates: Iterable[str] = RATES
    ) -> dict[str, dict[str, RateEstimate]]:
        rates = tuple(rates)
        return {
            layer: {rate: self.estimate(rate, layer, domain) for rate in rates} for layer in LAYERS
        }


@dataclass(frozen=True)
class Comparison:
    """One segment against the rest: compared only with enough respondents and events."""

    respondents: int
    others_respondents: int
    events: int  # both sides together
    comparable: bool
    result: RateComparison | None
    note: str = ""  # "too few to compare" when not comparable


def compare_domains(
    weight: np.ndarray,
    z1: np.ndarray,
    z2: np.ndarray,
    y: np.ndarray,
    strata: np.ndarray,
    inclusion: np.ndarray | None = None,
) -> Comparison:
    n1, n2 = int(np.sum(z1)), int(np.sum(z2))
    events = int(np.sum((z1 | z2) & y))
    comparable = (
        n1 >= COMPARE_MIN_RESPONDENTS
        and n2 >= COMPARE_MIN_RESPONDENTS
        and events >= COMPARE_MIN_EVENTS
    )
    if not comparable:
        return Comparison(n1, n2, events, False, None, "too few to compare")
    result = rate_ratio(weight, z1, y, z2, y, strata, inclusion=inclusion)
    return Comparison(n1, n2, events, True, result)


def holm_over(comparisons: Sequence[Comparison]) -> list[float | None]:
    """Holm-adjusted p-values over the comparable comparisons (None for the others)."""
    tested = [
        i
        for i, c in enumerate(comparisons)
        if c.comparable and c.result is not None and c.result.p_value is not None
    ]
    adjusted = holm_adjust([comparisons[i].result.p_value for i in tested])
    out: list[float | None] = [None] * len(comparisons)
    for i, p in zip(tested, adjusted, strict=True):
        out[i] = p
    return out
