"""Stratified priority sampling: record keys, stratum draws, inclusion probabilities, allocation."""

import functools
import hashlib
import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime

import numpy as np
from numpy.typing import ArrayLike

from auditcore.lazy import LazyModule

sps = LazyModule("scipy.stats")

# Floor for size measures: a zero impact weight must still give the record a (tiny) chance.
EPSILON = 1e-6
SIZE_MEASURES = ("uniform", "impact", "sqrt_impact", "session")
# Size measures read from the record's session importance instead of the user's impact weight.
SESSION_MEASURES = ("session",)
# Neyman planning rates are kept away from 0 and 1 (STATISTICS.md: "P_h floored at 0.1"); the
# formula is symmetric in P and 1 - P, so the same floor applies to 1 - P.
PLANNING_RATE_FLOOR = 0.1
MIN_PER_STRATUM = 2
_U_BITS = 53


@dataclass(frozen=True)
class StratumDraw:
    indices: np.ndarray  # positions into the stratum's arrays, ordered by priority key
    tau: float | None  # the (n+1)-th smallest key; None when the whole stratum was taken
    pi: np.ndarray  # inclusion probability of each selected record, aligned with indices
    population: int  # N_h


@functools.lru_cache(maxsize=16)
def _keyed_blake2b(salt: str) -> hashlib.blake2b:
    """The keyed hash's initial state, set up once per salt (copying it is half the cost)."""
    key = salt.encode()
    if not key or len(key) > 64:
        raise ValueError("the round salt must be 1 to 64 bytes")
    return hashlib.blake2b(key=key, digest_size=8)


def record_u(record_key: str, salt: str) -> float:
    """The record's uniform draw u in (0, 1], reproducible from (record key, round salt).

    A keyed BLAKE2b (the salt is the key) makes u unpredictable without the salt, so nobody can
    craft record ids that get sampled, and independent between rounds with different salts. The
    top 53 bits fill a double's mantissa exactly, so every hash value maps to a distinct float;
    adding 1 before scaling excludes 0 (a key u/x must be > 0) and includes 1.
    """
    hasher = _keyed_blake2b(salt).copy()
    hasher.update(record_key.encode())
    digest = hasher.digest()
    top = int.from_bytes(digest, "big") >> (64 - _U_BITS)
    return (top + 1) / 2**_U_BITS


# --- Keyed mixing -------------------------------------------------------------------------------
# A round's u for each record is its stored hash Interaction.u mixed with the round salt in numpy,
# so it depends only on (record key, round salt) and a draw never re-hashes the record keys.

_MASK64 = np.uint64(0xFFFFFFFFFFFFFFFF)
_U_SCALE = float(2**53)


def salt_key(salt: str, purpose: str) -> np.uint64:
    digest = hashlib.blake2b(purpose.encode(), key=salt.encode()[:64], digest_size=8).digest()
    return np.uint64(int.from_bytes(digest, "big"))


def _splitmix(z: np.ndarray) -> np.ndarray:
    # splitmix64's finaliser: a bijection on 64 bits with full avalanche. Wrapping multiplication
    # is intended, so numpy's overflow warnings are silenced.
    with np.errstate(over="ignore"):
        z = z ^ (z >> np.uint64(30))
        z = z * np.uint64(0xBF58476D1CE4E5B9)
        z = z ^ (z >> np.uint64(27))
        z = z * np.uint64(0x94D049BB133111EB)
        z = z ^ (z >> np.uint64(31))
    return z & _MASK64


def mixed_unit(stored_u: np.ndarray, salt: str, purpose: str) -> np.ndarray:
    """u' in (0, 1] from a record's stored u in (0, 1] and the round salt, for one purpose."""
    bits = np.rint(np.asarray(stored_u, dtype=float) * _U_SCALE).astype(np.uint64)
    z = _splitmix(_splitmix(bits ^ salt_key(salt, purpose)))
    return ((z >> np.uint64(11)).astype(float) + 1.0) / _U_SCALE


def round_u(stored_u: np.ndarray, salt: str) -> np.ndarray:
    return mixed_unit(stored_u, salt, "draw")


def size_measure(impact_weight: float, kind: str) -> float:
    """Size measure x > 0 for a record: 1, its impact weight, or the weight's square root.

    For "session" pass the record's session importance: it is used as it is, like "impact".
    """
    if kind not in SIZE_MEASURES:
        raise ValueError(f"unknown size measure {kind!r}; expected one of {SIZE_MEASURES}")
    if kind == "uniform":
        return 1.0
    if not math.isfinite(impact_weight) or impact_weight < 0:
        raise ValueError(f"impact weight must be a finite number >= 0, got {impact_weight!r}")
    x = math.sqrt(impact_weight) if kind == "sqrt_impact" else impact_weight
    return max(x, EPSILON)


def size_measures(weights: np.ndarray, kind: str) -> np.ndarray:
    """size_measure over an array of impact weights (or session importances), unchecked."""
    if kind == "uniform":
        return np.ones_like(weights)
    x = np.sqrt(np.maximum(weights, 0)) if kind == "sqrt_impact" else weights
    return np.maximum(x, EPSILON)


def priority_key(u: float, x: float) -> float:
    """Priority key k = u / x (elementwise on numpy arrays too); the smallest keys are drawn."""
    return u / x


def stratum_key(
    day: date | str, category: str, outcome: str, model_version: str, surface: str | None = None
) -> str:
    """Stable text key of a stratum: day|category|outcome|model[|surface], parts %-escaped."""
    if isinstance(day, datetime):
        raise TypeError("pass the record's UTC date, not a datetime")
    day_text = day.isoformat() if isinstance(day, date) else str(day)
    parts = [day_text, category, outcome, model_version]
    if surface is not None:
        parts.append(surface)
    key = "|".join(parts)
    if "%" not in key and key.count("|") == len(parts) - 1:
        return key  # nothing to escape, the common case
    # Escaping keeps the key unambiguous when a model or surface name contains the separator.
    return "|".join(p.replace("%", "%25").replace("|", "%7C") for p in parts)


def draw_stratum(keys: ArrayLike, sizes: ArrayLike, n: int) -> StratumDraw:
    """Take the n smallest priority keys of one stratum, with tau and pi = min(1, x * tau).

    O(N) through argpartition; only the n selected are sorted, so a larger quota with the same
    keys returns the smaller sample as its prefix.
    """
    keys = np.asarray(keys, dtype=float)
    sizes = np.asarray(sizes, dtype=float)
    if keys.shape != sizes.shape or keys.ndim != 1:
        raise ValueError("keys and sizes must be 1-D arrays of the same length")
    population = keys.size
    n = max(0, min(int(n), population))
    if n == population:
        order = np.argsort(keys, kind="stable")
        return StratumDraw(order, None, np.ones(population), population)
    part = np.argpartition(keys, n)
    chosen = part[:n]
    chosen = chosen[np.argsort(keys[chosen], kind="stable")]
    tau = float(keys[part[n]])
    pi = np.minimum(1.0, sizes[chosen] * tau)
    return StratumDraw(chosen, tau, pi, population)


def combined_inclusion(
    pi_first: float, tau_first: float | None, tau_combined: float | None
) -> float:
    """π of a first-phase item under the design of its round combined with a supplement.

    Priority sampling is nested: the supplement extends the same keys to a larger threshold, and
    π = min(1, x·τ) with the item's own x, so π_c = min(1, π₁·τ_c/τ₁). An item taken with
    certainty (π₁ = 1, or a stratum taken whole) stays certain, and so does every item of a
    stratum the combined draw took whole (τ_c None).
    """
    if pi_first >= 1.0 or tau_first is None or tau_combined is None:
        return 1.0
    return min(1.0, pi_first * tau_combined / tau_first)


def neyman_allocation(
    strata: Sequence[tuple[int, float | None]],
    floors: Sequence[int] | None,
    budget: int,
    minimum: int = MIN_PER_STRATUM,
) -> list[int]:
    """Sample sizes per stratum from (N_h, P_h): floors first, then Neyman, capped at N_h.

    The minimum of a stratum with records is max(floor, minimum), capped at N_h; the total is
    max(budget, sum of minimums), or sum(N_h) if that is smaller. Within those bounds the sizes are
    the variance-minimising n_h = clip(c * N_h * sqrt(P_h (1 - P_h)), min_h, N_h), c found by
    bisection (so a stratum whose floor already exceeds its Neyman share gets nothing extra).
    Rounding: each n_h is rounded down, then the units still missing go one each to the strata
    with the largest fractional parts (largest remainder, ties to the earlier stratum), which
    keeps the sum exact and never exceeds a cap. P_h of None (no earlier round) plans with 0.5.
    """
    floors = list(floors) if floors is not None else [0] * len(strata)
    if len(floors) != len(strata):
        raise ValueError("one floor per stratum")
    sizes = np.array([int(size) for size, _ in strata], dtype=float)
    rates = np.array([0.5 if p is None else p for _, p in strata], dtype=float)
    rates = np.clip(rates, PLANNING_RATE_FLOOR, 1 - PLANNING_RATE_FLOOR)
    lows = np.minimum(sizes, np.maximum(np.array(floors, dtype=float), minimum))
    lows[sizes <= 0] = 0
    highs = np.maximum(sizes, 0)
    target = min(max(float(budget), lows.sum()), highs.sum())
    if target <= lows.sum():
        return [int(v) for v in lows]
    scores = sizes * np.sqrt(rates * (1 - rates))
    live = scores > 0
    lo_c, hi_c = 0.0, float(np.max(highs[live] / scores[live]))
    for _ in range(200):  # f(c) = sum(clip(c * score)) is monotone; 200 halvings reach 1e-60
        mid = (lo_c + hi_c) / 2
        if np.clip(mid * scores, lows, highs).sum() < target:
            lo_c = mid
        else:
            hi_c = mid
    shares = np.clip(lo_c * scores, lows, highs)
    alloc = np.floor(shares + 1e-9).astype(int)
    alloc = np.minimum(alloc, highs.astype(int))
    missing = round(target) - int(alloc.sum())
    order = sorted(range(len(alloc)), key=lambda h: (-(shares[h] - alloc[h]), h))
    while missing > 0:
        for h in order:
            if missing and alloc[h] < highs[h]:
                alloc[h] += 1
                missing -= 1
    return [int(v) for v in alloc]


def _z(confidence: float) -> float:
    return float(sps.norm.ppf(0.5 + confidence / 2))


def expected_half_width(
    n: int, p: float = 0.2, deff: float = 1.0, N: int | None = None, confidence: float = 0.95
) -> float:
    """Expected interval half-width z * sqrt(deff * P(1-P) / n * fpc) for a planned sample of n.

    With N given, the finite population correction fpc = (N - n) / (N - 1) applies: the sample is
    drawn without replacement, so a stratum taken whole (a census) has no sampling error at all.
    """
    if n <= 0:
        return math.inf
    fpc = 1.0
    if N is not None:
        if n >= N:
            return 0.0
        fpc = (N - n) / (N - 1)
    return _z(confidence) * math.sqrt(deff * p * (1 - p) / n * fpc)


def size_measure_deff(kind: str, count: int, impact_sum: float, impact_sq_sum: float) -> float:
    """Design effect of the size measure in one stratum, E[n·Σd²/(Σd)²] ≈ mean(x)·mean(1/x).

    Only Σw and Σw² of the impact weight w are known (StratumCount), so this uses the lognormal
    identity mean(x)·mean(1/x) = 1 + CV²(x): for x = w that is N·Σw²/(Σw)²; for x = √w it is
    (N·Σw²/(Σw)²)^¼.
    """
    if kind == "uniform" or count <= 0 or impact_sum <= 0:
        return 1.0
    relvar = max(1.0, count * impact_sq_sum / impact_sum**2)
    return relvar if kind == "impact" else relvar**0.25


# --- Planning a round within its budget ---------------------------------------------------------

# Strata always split by category, model outcome and served outcome (did the gateway change the
# answer); the ladder collapses them from the right only when the budget cannot give every
# stratum its minimum. Surface, model version and day are added after them, in this order, each
# only if every stratum still keeps MIN_PER_STRATUM expected items within the budget.
BASE_DIMS = ("category", "outcome", "served")
OPTIONAL_DIMS = ("surface", "model_version", "day")
ALL_DIMS = BASE_DIMS + OPTIONAL_DIMS
POOLED = "*"


@dataclass(frozen=True)
class Cell:
    """The finest population cell the counts know, with its impact sums."""

    category: str
    outcome: str
    served: str  # "as_model" or "gateway"
    surface: str
    model_version: str
    day: str
    population: int
    impact_sum: float = 0.0
    impact_sq_sum: float = 0.0

    def parts(self, dims: Sequence[str]) -> tuple[str, ...]:
        """The stratum this cell falls in under `dims`: one value per dimension, pooled ones "*"."""
        return tuple(getattr(self, d) if d in dims else POOLED for d in ALL_DIMS)


def round_stratum_key(parts: Sequence[str]) -> str:
    """Stable text key of a round's stratum: its ALL_DIMS values joined by "|", %-escaped."""
    return "|".join(p.replace("%", "%25").replace("|", "%7C") for p in parts)


@dataclass
class PlannedStratum:
    parts: tuple[str, ...]  # one value per ALL_DIMS entry, POOLED where collapsed
    population: int
    impact_sum: float
    impact_sq_sum: float
    groups: dict[tuple[str, str], int]  # population per (category, outcome) inside the stratum
    floor: int = 0
    planned: int = 0

    @property
    def key(self) -> str:
        return round_stratum_key(self.parts)

    def value(self, dim: str) -> str | None:
        v = self.parts[ALL_DIMS.index(dim)]
        return None if v == POOLED else v


@dataclass
class BudgetPlan:
    dims: tuple[str, ...]
    collapsed: list[str]  # dimensions left out, in ALL_DIMS order
    strata: list[PlannedStratum]
    fits: bool
    minimum: int  # items the floors and the 2-per-stratum rule need at the chosen dimensions
    problem: str = ""


def spread_floor(total: int, sizes: Sequence[int]) -> list[int]:
    """Split a quota over strata in proportion to their sizes, capped at each size.

    Largest remainder, ties to the earlier stratum; a share over its cap passes to the others.
    """
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


def group_strata(
    cells: Sequence[Cell],
    dims: Sequence[str],
    quotas: dict[tuple[str, str], int],
    sampled: dict[str, int] | None = None,
) -> list[PlannedStratum]:
    """The strata of `cells` under `dims`, each with its floor: its share of the quotas (split
    in proportion to the quota's population in each stratum) and at least what it already has."""
    strata: dict[tuple[str, ...], PlannedStratum] = {}
    for c in cells:
        if c.population <= 0:
            continue
        parts = c.parts(dims)
        s = strata.get(parts)
        if s is None:
            s = strata[parts] = PlannedStratum(parts, 0, 0.0, 0.0, {})
        s.population += c.population
        s.impact_sum += c.impact_sum
        s.impact_sq_sum += c.impact_sq_sum
        group = (c.category, c.outcome)
        s.groups[group] = s.groups.get(group, 0) + c.population
    ordered = [strata[p] for p in sorted(strata)]
    for group, quota in quotas.items():
        members = [s for s in ordered if group in s.groups]
        for s, share in zip(
            members, spread_floor(quota, [s.groups[group] for s in members]), strict=True
        ):
            s.floor += share
    for s in ordered:
        s.floor = max(min(s.floor, s.population), (sampled or {}).get(s.key, 0))
    return ordered


def stratum_minimum(s: PlannedStratum) -> int:
    return min(s.population, max(s.floor, MIN_PER_STRATUM))


def _fits(strata: Sequence[PlannedStratum], budget: int, optional: bool) -> bool:
    # An optional dimension must not split off a stratum too small to hold 2 items.
    if optional and any(s.population < MIN_PER_STRATUM for s in strata):
        return False
    return budget <= 0 or sum(stratum_minimum(s) for s in strata) <= budget


def quota_overflow_advice(quotas: dict[tuple[str, str], int], over: int) -> list[str]:
    """The largest quotas whose removal would free `over` items, largest first."""
    advice, freed = [], 0
    for (category, outcome), n in sorted(quotas.items(), key=lambda kv: (-kv[1], kv[0])):
        if freed >= over or n <= 0:
            break
        advice.append(f"{category}/{outcome} ({n})")
        freed += n
    return advice


def plan_within_budget(
    cells: Sequence[Cell],
    quotas: dict[tuple[str, str], int],
    budget: int,
    rates: dict[tuple[str, str], float] | None = None,
    dims: Sequence[str] | None = None,
    sampled: dict[str, int] | None = None,
) -> BudgetPlan:
    """Choose the stratification that fits the budget (BASE_DIMS collapsed from the right only
    when needed, never below category × outcome while a quota is set; then OPTIONAL_DIMS added
    while they fit), or report why nothing fits.

    `dims` fixes the stratification (a round already drawn keeps its strata). A budget of 0
    means no budget: every dimension whose strata hold at least 2 records is used. Within the
    budget each stratum gets its minimum, then Neyman allocation with P_h from `rates` (per
    category × outcome, the population-weighted mean in a pooled stratum).
    """
    if dims is not None:
        strata = group_strata(cells, dims, quotas, sampled)
        chosen = tuple(dims)
    else:
        # A quota is a floor for a category × outcome, which a stratum pooling them cannot keep.
        deepest = 2 if any(n > 0 for n in quotas.values()) else 0
        chosen, strata = BASE_DIMS, group_strata(cells, BASE_DIMS, quotas, sampled)
        for cut in range(len(BASE_DIMS), deepest - 1, -1):
            candidate = group_strata(cells, BASE_DIMS[:cut], quotas, sampled)
            if _fits(candidate, budget, optional=False):
                chosen, strata = BASE_DIMS[:cut], candidate
                break
        # The finer dimensions refine the full base only, never a stratification already cut.
        if chosen == BASE_DIMS and _fits(strata, budget, optional=False):
            for dim in OPTIONAL_DIMS:
                candidate = group_strata(cells, (*chosen, dim), quotas, sampled)
                if _fits(candidate, budget, optional=True):
                    chosen, strata = (*chosen, dim), candidate
    minimum = sum(stratum_minimum(s) for s in strata)
    collapsed = [d for d in ALL_DIMS if d not in chosen]
    problem = ""
    fits = budget <= 0 or minimum <= budget
    if not fits:
        over = minimum - budget
        if any(n > 0 for n in quotas.values()):
            drop = quota_overflow_advice(quotas, over)
            problem = (
                f"The quotas and the minimum of {MIN_PER_STRATUM} items per stratum need "
                f"{minimum} items, {over} more than the budget of {budget}. Raise the budget to "
                f"{minimum}, or lower or drop quotas: {', '.join(drop)}."
            )
        else:
            problem = (
                f"The budget of {budget} is below the {minimum} items that {len(strata)} "
                f"strata need ({MIN_PER_STRATUM} each, or all of a smaller one); raise it by "
                f"{over}."
            )
    if fits:
        planning = []
        for s in strata:
            known = {g: n for g, n in s.groups.items() if (rates or {}).get(g) is not None}
            p = sum(rates[g] * n for g, n in known.items()) / sum(known.values()) if known else None
            planning.append((s.population, p))
        allocation = neyman_allocation(planning, [s.floor for s in strata], budget)
    else:
        allocation = [stratum_minimum(s) for s in strata]
    for s, n in zip(strata, allocation, strict=True):
        s.planned = n
    return BudgetPlan(chosen, collapsed, strata, fits, minimum, problem)


def plan_supplement(
    cells: Sequence[Cell],
    quotas: dict[tuple[str, str], int],
    budget: int,
    dims: Sequence[str],
    taken: dict[str, int],
    rates: dict[tuple[str, str], float] | None = None,
) -> BudgetPlan:
    """A second-phase draw of `budget` more items from the remainder of a drawn round's strata.

    `taken` is what the first round sampled per stratum key. The remainder N_h - n_h is allocated
    by Neyman with the quotas as floors; no 2-per-stratum minimum, the first phase has it.
    """
    strata = group_strata(cells, dims, {}, None)
    remainder = [max(0, s.population - taken.get(s.key, 0)) for s in strata]
    for group, quota in quotas.items():
        members = [h for h, s in enumerate(strata) if group in s.groups and remainder[h]]
        shares = spread_floor(quota, [remainder[h] for h in members])
        for h, share in zip(members, shares, strict=True):
            strata[h].floor += share
    need = sum(min(s.floor, r) for s, r in zip(strata, remainder, strict=True))
    problem = ""
    if budget <= 0:
        problem = "A supplement needs a budget: how many more items to draw."
    elif need > budget:
        problem = (
            f"The quotas need {need} items, {need - budget} more than the budget of {budget}; "
            f"lower or drop quotas: {', '.join(quota_overflow_advice(quotas, need - budget))}."
        )
    planning = []
    for s, r in zip(strata, remainder, strict=True):
        known = {g: n for g, n in s.groups.items() if (rates or {}).get(g) is not None}
        p = sum(rates[g] * n for g, n in known.items()) / sum(known.values()) if known else None
        planning.append((r, p))
    allocation = neyman_allocation(planning, [s.floor for s in strata], max(budget, 0), minimum=0)
    for s, n in zip(strata, allocation, strict=True):
        s.planned = n
    collapsed = [d for d in ALL_DIMS if d not in dims]
    return BudgetPlan(tuple(dims), collapsed, strata, not problem, need, problem)
