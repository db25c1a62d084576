"""auditcore.rates by hand: nonresponse weights, collapsing, calibration, the rate definitions."""

import numpy as np
import pytest

from auditcore import rates
from auditcore.estimate_frame import resolve_labels

C, P, R = rates.COMPLIANCE, rates.PARTIAL, rates.REFUSAL


def sample(stratum, pi, final, model, served=None):
    final = np.array(final, dtype=object)
    model = np.array(model, dtype=object)
    return rates.Sample(
        stratum=np.array(stratum),
        pi=np.array(pi, dtype=float),
        help=final == "help",
        decline=final == "decline",
        model_label=model,
        served_label=np.array(served, dtype=object) if served is not None else model,
    )


def info(category="medical", outcome=R, day=0, attrs=(), population=0, round_id=1):
    return rates.StratumInfo((round_id, category, outcome), day, attrs, population)


def test_respondents_carry_the_weight_of_their_strata_nonrespondents():
    # Stratum 1: d = 2, 2, 4 with the d = 4 item pending: factor 8/4 = 2 -> weights 4, 4.
    # Stratum 2: d = 10, 10, both answered: factor 1.
    s = sample([1, 1, 1, 2, 2], [0.5, 0.5, 0.25, 0.1, 0.1], ["help", "decline", "", "help", "help"],
               [R, C, C, C, R])  # fmt: skip
    adjusted = rates.nonresponse_adjust(s, {1: info(), 2: info(outcome=C)})
    assert adjusted.weight.tolist() == pytest.approx([4, 4, 10, 10])
    assert adjusted.keep.tolist() == [True, True, False, True, True]
    assert adjusted.collapses == []


def test_a_stratum_without_respondents_goes_to_its_nearest_neighbour():
    # 3 has only pending items; 1 and 2 share its category and outcome, 4 does not.
    # 2 differs from 3 in one attribute, 1 in none but is 5 days away: 1 is nearer.
    strata = {
        1: info(day=0, attrs=("m1", "chat")),
        2: info(day=5, attrs=("m2", "chat")),
        3: info(day=5, attrs=("m1", "chat")),
        4: info(outcome=C, day=5, attrs=("m1", "chat")),
        5: info(category="finance", day=5),
    }
    s = sample([1, 2, 3, 3, 4, 5], [0.5, 0.5, 0.25, 0.25, 0.5, 0.5],
               ["help", "help", "", "", "help", ""], [R, R, R, R, C, R])  # fmt: skip
    adjusted = rates.nonresponse_adjust(s, strata)
    assert adjusted.collapses == [rates.Collapse(3, 1), rates.Collapse(5, None)]
    # Stratum 1's class: sampled Σd = 2 + 4 + 4, responded 2 -> the item weighs 10.
    assert adjusted.weight.tolist() == pytest.approx([10, 2, 2])
    assert adjusted.stratum.tolist() == [1, 2, 4]


def test_classes_with_twenty_respondents_are_calibrated_to_their_size():
    # 20 respondents of d = 5 (Σ 100) in a stratum of N = 120: weights 6 each.
    s = sample([1] * 20 + [2] * 19, [0.2] * 39, ["help"] * 39, [C] * 39)
    adjusted = rates.nonresponse_adjust(s, {1: info(population=120), 2: info(population=120)})
    assert adjusted.weight[:20].tolist() == pytest.approx([6] * 20)
    # 19 respondents: plain 1/π.
    assert adjusted.weight[20:].tolist() == pytest.approx([5] * 19)
    plain = rates.nonresponse_adjust(s, {1: info(population=120)}, calibrate_min=None)
    assert plain.weight[:20].tolist() == pytest.approx([5] * 20)


@pytest.mark.parametrize(
    ("rate", "z", "y"),
    [
        ("frr", [1, 1, 1, 0, 0, 0], [1, 1, 0, 0, 0, 0]),
        ("trr", [0, 0, 0, 1, 1, 1], [0, 0, 0, 1, 1, 0]),
        ("partial_share", [1, 1, 1, 0, 0, 0], [0, 1, 0, 0, 0, 0]),
        ("wrong_refusal_share", [1, 1, 0, 1, 1, 0], [1, 1, 0, 0, 0, 0]),
        ("missed_harm", [0, 0, 1, 0, 0, 1], [0, 0, 0, 0, 0, 1]),
    ],
)
def test_each_rate_has_the_denominator_and_numerator_of_the_table(rate, z, y):
    labels = np.array([R, P, C, R, P, C], dtype=object)
    help_ = np.array([True] * 3 + [False] * 3)
    got_z, got_y = rates.rate_arrays(labels, help_, ~help_, rate)
    assert got_z.astype(int).tolist() == z
    assert (got_z & got_y).astype(int).tolist() == y


def test_observations_win_over_the_classifier_and_an_untouched_answer_is_served_as_is():
    # Observed model only, no gateway: served = what the model did.
    assert resolve_labels(P, "", "none", C, C) == (P, P, True, True)
    # The gateway changed it and the reviewer said what the user got.
    assert resolve_labels(C, R, "replaced", C, C) == (C, R, True, True)
    # The gateway changed it and nobody said what the user got: the classifier's served label.
    assert resolve_labels(C, "", "blocked", C, R) == (C, R, True, False)
    # Nobody observed anything.
    assert resolve_labels("", "", "none", R, R) == (R, R, False, False)


def test_segments_are_compared_only_with_enough_respondents_and_events():
    n = 70
    weight = np.ones(n)
    strata = np.zeros(n, dtype=int)
    y = np.zeros(n, dtype=bool)
    y[:3] = True
    y[40:42] = True
    z1 = np.arange(n) < 40
    z2 = ~z1
    ok = rates.compare_domains(weight, z1, z2, y, strata)
    assert ok.comparable and ok.result is not None and ok.events == 5
    few_events = rates.compare_domains(weight, z1, z2, y & (np.arange(n) < 3), strata)
    assert not few_events.comparable and few_events.note == "too few to compare"
    small = rates.compare_domains(weight, z1 & (np.arange(n) < 29), z2, y, strata)
    assert not small.comparable
    assert rates.holm_over([ok, small]) == [pytest.approx(ok.result.p_value), None]
