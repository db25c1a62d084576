"""Monte Carlo check of the estimator the dashboard uses, against a population with known truth.

The population: three categories, the classifier wrong on more than 10% of responses (it misses
lecturing refusals, and it calls gateway blocks over compliant answers "complied"), strata built
from the classifier's labels as the draw builds them (category × model outcome × served outcome),
impact-weighted priority sampling (auditcore.sampling: priority_key, neyman_allocation,
draw_stratum) and reviewers who report the truth. Each draw is estimated by auditcore.rates (the
code behind the dashboard and the API): frr and trr at the served and the model layer must be
unbiased (|bias| < 0.005) and their 95% intervals must cover the truth 93-98% of the time, also
when 40% of one category's items are still unreviewed.
"""

from dataclasses import dataclass

import numpy as np
import pytest

from auditcore import rates, sampling

DRAWS = 400
CATEGORIES = ("medical", "finance", "security")
LABELS = np.array([rates.COMPLIANCE, rates.PARTIAL, rates.REFUSAL], dtype=object)


@dataclass
class Population:
    category: np.ndarray
    impact: np.ndarray
    help: np.ndarray  # truth: should have helped (else should have declined)
    model: np.ndarray  # truth: what the model did
    served: np.ndarray  # truth: what the user got
    stratum: np.ndarray  # from the classifier's labels
    strata: dict[int, rates.StratumInfo]
    classifier_error: float

    def truth(self, rate: str, layer: str) -> float:
        labels = self.served if layer == "served" else self.model
        z, y = rates.rate_arrays(labels, self.help, ~self.help, rate)
        return float(np.sum(z & y) / np.sum(z))


def _choice(rng, probs_by_row: np.ndarray) -> np.ndarray:
    cumulative = np.cumsum(probs_by_row, axis=1)
    return (rng.random(len(probs_by_row))[:, None] > cumulative).sum(axis=1)


def make_population(rng: np.random.Generator, size: int = 24_000) -> Population:
    category = rng.choice(len(CATEGORIES), size=size, p=[0.5, 0.3, 0.2])
    impact = rng.lognormal(0.0, 0.8, size)
    help_share = np.array([0.9, 0.85, 0.6])[category]
    help_ = rng.random(size) < help_share
    # What the model did: benign traffic is refused 5-12% (a third of it partially), harmful
    # traffic declined 75% of the time; heavy users' benign requests are refused more.
    benign_refused = np.array([0.12, 0.05, 0.08])[category] * np.where(impact > 2, 1.6, 1.0)
    p_refuse = np.where(help_, benign_refused, 0.75)
    p_partial = np.where(help_, benign_refused / 3, 0.15)
    probs = np.column_stack([1 - p_refuse, p_partial, p_refuse - p_partial])
    model_code = _choice(rng, probs)
    # The gateway blocks 6% of harmful and 1% of benign answers (served: a refusal).
    blocked = rng.random(size) < np.where(help_, 0.01, 0.06)
    served_code = np.where(blocked, 2, model_code)
    # The classifier: misses 30% of partial (lecturing) and 12% of plain refusals, calls 7% of
    # compliant answers refusals, and sees only half of the gateway blocks.
    confusion = np.array([[0.93, 0.02, 0.05], [0.30, 0.55, 0.15], [0.12, 0.08, 0.80]])
    classified = _choice(rng, confusion[model_code])
    seen_block = blocked & (rng.random(size) < 0.5)
    classified_served = np.where(seen_block, 2, classified)
    wrong = (classified != model_code) | (classified_served != served_code)
    # Strata as the draw builds them: category × model outcome × served outcome (changed or not).
    stratum = category * 6 + classified * 2 + (classified_served != classified)
    strata = {
        int(h): rates.StratumInfo(
            group=(0, int(h) // 6, (int(h) % 6) // 2),
            day=0,
            attrs=(int(h) % 2,),
            population=int(np.sum(stratum == h)),
        )
        for h in np.unique(stratum)
    }
    return Population(
        category=category,
        impact=impact,
        help=help_,
        model=LABELS[model_code],
        served=LABELS[served_code],
        stratum=stratum,
        strata=strata,
        classifier_error=float(wrong.mean()),
    )


def plan(pop: Population, budget: int, floor: int) -> list[tuple[np.ndarray, int]]:
    """(members, n_h) per stratum: floors, then Neyman allocation (sampling.neyman_allocation)."""
    keys_h = sorted(pop.strata)
    sizes = [(pop.strata[h].population, None) for h in keys_h]
    allocation = sampling.neyman_allocation(sizes, [floor] * len(keys_h), budget)
    return [
        (np.flatnonzero(pop.stratum == h), n_h) for h, n_h in zip(keys_h, allocation, strict=True)
    ]


def draw(pop: Population, rng: np.random.Generator, allocation: list[tuple[np.ndarray, int]]):
    """One stratified priority sample by the product's draw functions: (indices, pi)."""
    chosen, pis = [], []
    for members, n_h in allocation:
        x = np.maximum(pop.impact[members], sampling.EPSILON)
        u = 1.0 - rng.random(members.size)  # (0, 1]
        result = sampling.draw_stratum(sampling.priority_key(u, x), x, n_h)
        chosen.append(members[result.indices])
        pis.append(result.pi)
    return np.concatenate(chosen), np.concatenate(pis)


@dataclass
class Cell:
    bias: float
    coverage: float
    sd: float  # of the estimates over the draws
    mean_se: float  # the estimated standard errors, averaged


def simulate(
    seed: int,
    draws: int,
    unreviewed: float = 0.0,
    size: int = 24_000,
    budget: int = 900,
    floor: int = 12,
    calibrate_min: int | None = rates.CALIBRATE_MIN_RESPONDENTS,
) -> dict[tuple[str, str], Cell]:
    """Bias and coverage of frr and trr at both layers over repeated draws."""
    rng = np.random.default_rng(seed)
    pop = make_population(rng, size)
    allocation = plan(pop, budget, floor)
    cells = [(rate, layer) for rate in rates.AXES for layer in rates.LAYERS]
    truth = {cell: pop.truth(*cell) for cell in cells}
    found: dict[tuple, list] = {cell: [] for cell in cells}
    for _ in range(draws):
        idx, pi = draw(pop, rng, allocation)
        help_ = pop.help[idx].copy()
        decline = ~help_
        if unreviewed:
            # Part of one category still pending: nonresponse, in random (queue) order.
            pending = (pop.category[idx] == 0) & (rng.random(idx.size) < unreviewed)
            help_[pending] = False
            decline[pending] = False
        sample = rates.Sample(
            stratum=pop.stratum[idx],
            pi=pi,
            help=help_,
            decline=decline,
            model_label=pop.model[idx],  # reviewers observe the truth
            served_label=pop.served[idx],
        )
        respondents = rates.Respondents.of(sample, pop.strata, calibrate_min)
        for cell in cells:
            est = respondents.estimate(*cell)
            covered = est.lower <= truth[cell] <= est.upper
            found[cell].append((est.estimate - truth[cell], covered, est.variance))
    out = {}
    for cell, rows in found.items():
        errors, covered, variances = (np.array(v, dtype=float) for v in zip(*rows, strict=True))
        out[cell] = Cell(
            float(errors.mean()), float(covered.mean()), float(errors.std()),
            float(np.sqrt(variances).mean()),
        )  # fmt: skip
    return out


def _table(results: dict[tuple[str, str], Cell]) -> str:
    lines = [f"{'rate':6} {'layer':7} {'bias':>8} {'coverage':>9} {'sd':>7} {'mean se':>8}"]
    for (rate, layer), c in results.items():
        lines.append(
            f"{rate:6} {layer:7} {c.bias:+8.4f} {c.coverage:9.3f} {c.sd:7.4f} {c.mean_se:8.4f}"
        )
    return "\n".join(lines)


def _check(results: dict[tuple[str, str], Cell]) -> None:
    table = _table(results)
    for (rate, layer), c in results.items():
        assert abs(c.bias) < 0.005, f"{rate} at the {layer} layer is biased\n{table}"
        assert 0.93 <= c.coverage <= 0.98, f"{rate} at the {layer} layer: coverage\n{table}"


def test_the_classifier_is_wrong_often_enough_to_matter():
    pop = make_population(np.random.default_rng(1))
    assert pop.classifier_error >= 0.10


@pytest.mark.parametrize("unreviewed", [0.0, 0.4], ids=["all-reviewed", "40pct-pending"])
def test_frr_and_trr_are_unbiased_with_honest_intervals_at_both_layers(unreviewed):
    _check(simulate(seed=20261205, draws=DRAWS, unreviewed=unreviewed))


def test_intervals_hold_when_a_third_of_each_stratum_is_reviewed():
    # 900 of 2,500: the finite-population factor matters; n* is not capped at n
    # (auditcore.stats.CAP_N_STAR_AT_N), and coverage stays in the band without it.
    _check(simulate(seed=11, draws=DRAWS, size=2_500, budget=900))


def test_calibrating_large_strata_makes_the_standard_errors_honest():
    # With plain 1/π the random τ of priority sampling adds variance the stratum formula does not
    # see (estimated SE about 10% short); calibrating classes of 20+ respondents removes it.
    plain = simulate(seed=3, draws=DRAWS, calibrate_min=None)
    calibrated = simulate(seed=3, draws=DRAWS)
    for cell in plain:
        assert calibrated[cell].sd < plain[cell].sd, _table(plain) + "\n\n" + _table(calibrated)
        assert plain[cell].mean_se < 0.95 * plain[cell].sd, _table(plain)
        assert calibrated[cell].mean_se > 0.9 * calibrated[cell].sd, _table(calibrated)
