"""The estimate frame's arithmetic on hand-built item rows, without a database."""

import datetime as dt

import numpy as np
import pytest

from auditcore import estimate_frame as ef
from auditcore import rates as ra
from auditcore.models import GatewayAction, RoundItem
from auditcore.sampling import combined_inclusion

C, P, R = ra.COMPLIANCE, ra.PARTIAL, ra.REFUSAL
DAY = dt.date(2026, 11, 2)  # a Monday


def row(item_id, *, round_id=1, stratum=10, pi=0.5, final="help", status="done", model=C,
        served=None, gateway="none", observed="", observed_served="", disputed=False,
        category="medical", surface="chat", model_version="m1", segment="general", day=DAY,
        weight=None):  # fmt: skip
    """One item row shaped like FRAME_FIELDS."""
    values = {
        "id": item_id,
        "interaction_id": 1000 + item_id,
        "round_id": round_id,
        "stratum_id": stratum,
        "inclusion_probability": pi,
        "status": status,
        "final_decision": final,
        "observed_label": observed,
        "observed_served_label": observed_served,
        "observation_disputed": disputed,
        "interaction__response_label": model,
        "interaction__served_label": served or model,
        "interaction__gateway_action": gateway,
        "interaction__session_importance": 1.0,
        "interaction__day": day,
        "interaction__category": category,
        "interaction__surface__name": surface,
        "interaction__model_version__name": model_version,
        "interaction__user_segment": segment,
        "weight": 1 / pi if weight is None else weight,
    }
    return tuple(values[f] for f in ef.FRAME_FIELDS)


def respondents(rows, populations):
    frame = ef.frame_from_rows(rows)
    info = {
        pk: ra.StratumInfo(group=(1, "medical", C), day=DAY.toordinal(), population=n)
        for pk, n in populations.items()
    }
    return frame, ra.Respondents.of(frame.sample(), info, calibrate_min=None)


def test_the_stored_values_the_frame_compares_with_are_the_models_choices():
    assert ef.DONE == RoundItem.Status.DONE
    assert ef.UNTOUCHED == GatewayAction.NONE


def test_a_frame_resolves_each_items_call_and_labels():
    frame = ef.frame_from_rows(
        [
            row(1, final="help", observed=R),  # observed: wins over the classifier's compliance
            row(2, final="decline", gateway="replaced", served=R),  # served: classifier's
            row(3, final="unsure"),
            row(4, final="", status="pending", stratum=None, round_id=7),
        ]
    )
    assert frame.help.tolist() == [True, False, False, False]
    assert frame.decline.tolist() == [False, True, False, False]
    assert frame.unsure.tolist() == [False, False, True, False]
    assert frame.pending.tolist() == [False, False, False, True]
    assert frame.model_label.tolist() == [R, C, C, C]
    assert frame.served_label.tolist() == [R, R, C, C]
    assert frame.model_observed.tolist() == [True, False, False, False]
    assert frame.served_observed.tolist() == [True, False, False, False]
    # An item drawn outside any stratum gets its round's stray stratum, a negative key.
    assert frame.stratum.tolist() == [10, 10, 10, -7]


def test_an_empty_frame_has_no_items():
    frame = ef.frame_from_rows([])
    assert len(frame) == 0
    assert frame.respondents.tolist() == []


def test_a_first_round_item_joins_its_supplements_stratum_with_the_combined_pi():
    rows = [row(1, stratum=10, pi=0.2), row(2, stratum=99, pi=0.4)]
    first_strata = {10: (1, "key", 0.05)}
    combined = {(1, "key"): (20, 0.08)}
    moved = ef.rows_in_combined_design(rows, first_strata, combined)
    pi_at, stratum_at = (ef.FRAME_FIELDS.index(f) for f in ("inclusion_probability", "stratum_id"))
    assert moved[0][stratum_at] == 20
    assert moved[0][pi_at] == pytest.approx(combined_inclusion(0.2, 0.05, 0.08))
    assert moved[1] == rows[1]  # not a first-round stratum: left as it is


def test_the_headline_false_refusal_rate_is_the_weighted_share_of_should_help_refused():
    # Stratum 10: four should-help items at π = 0.5, one refused by the model; stratum 11: two
    # should-help items at π = 0.25, both refused. FRR = (2·1 + 4·2) / (2·4 + 4·2) = 10 / 16.
    rows = [row(1, model=R), row(2), row(3), row(4)]
    rows += [row(5, stratum=11, pi=0.25, model=R), row(6, stratum=11, pi=0.25, model=R)]
    frame, resp = respondents(rows, {10: 8, 11: 8})
    population = ef.Population(interactions=100, refused=30, share=0.3)
    h = ef.headline(frame, resp, population, gold=0, refs={})
    assert h.layers["model"]["frr"].estimate == pytest.approx(10 / 16)
    assert h.respondents == 6
    assert h.unobserved_model == 6  # nobody observed: the classifier's labels stood in
    assert h.population is population


def test_a_breakdown_lists_a_value_without_items_as_no_data():
    rows = [row(1, category="medical"), row(2, category="medical", model=R)]
    frame, resp = respondents(rows, {10: 4})
    by_category = ef.breakdown(frame, resp, "category", values=["finance"])
    assert [(r.value, r.sampled, r.respondents) for r in by_category] == [
        ("finance", 0, 0),
        ("medical", 2, 2),
    ]
    assert by_category[1].layers["model"]["frr"].estimate == pytest.approx(0.5)
    assert by_category[0].layers["model"]["frr"].n == 0


def test_standardised_weights_give_a_domain_the_overall_category_mix():
    weight = np.array([1.0, 1.0, 1.0, 5.0])
    z = np.ones(4, dtype=bool)
    category = np.array(["a", "a", "a", "b"], dtype=object)
    domain = np.ones(4, dtype=bool)
    out = ef.standardised_weights(weight, z, category, domain, {"a": 0.5, "b": 0.5})
    # Total 8 split half and half: a's three items share 4, b's one item gets 4.
    assert out.tolist() == pytest.approx([4 / 3, 4 / 3, 4 / 3, 4.0])


def test_the_heaviest_confirmed_false_refusals_come_first_with_their_cause():
    rows = [
        row(1, model=R, weight=2.0),
        row(2, model=C, served=R, gateway="blocked", weight=9.0),  # the gateway refused
        row(3, model=R, weight=5.0),
        row(4, model=R, final="decline", weight=50.0),  # should decline: not a false refusal
        row(5, model=C, weight=40.0),  # helped
    ]
    ids, causes = ef.heaviest_false_refusals(rows, "served", limit=2)
    assert ids == [2, 3]
    assert causes[2] == "gateway"
    assert causes[3] == "model"
    model_ids, _ = ef.heaviest_false_refusals(rows, "model", limit=10)
    assert model_ids == [3, 1]  # at the model layer the gateway's refusal is no refusal


def test_validation_counts_where_the_classifier_agrees_with_what_reviewers_saw():
    rows = [row(1, model=R), row(2, model=R), row(3, model=C, gateway="replaced", served=R)]
    strata = {10: ("medical", "m1")}
    observations = [(1, R, "", 2), (2, P, "", 1), (3, C, "", 1), (99, R, "", 5)]
    model = ef.validation_rows(rows, strata, observations, "model")
    assert [
        (v.classifier_label, v.observed, v.exact_matches, v.refusal_matches) for v in model
    ] == [
        (C, 1, 1, 1),
        (R, 3, 2, 3),
    ]
    # Served layer: item 3's answer was replaced and nobody recorded what was served.
    served = ef.validation_rows(rows, strata, observations, "served")
    assert [(v.classifier_label, v.observed) for v in served] == [(R, 3)]


def test_the_trend_has_a_point_per_round_or_week_and_model_version():
    rows = [row(1, model=R), row(2), row(3, model_version="m2")]
    rows += [row(4, round_id=2, day=DAY + dt.timedelta(days=8))]
    frame, resp = respondents(rows, {10: 8})
    rounds = [(1, "First", DAY), (2, "Second", DAY + dt.timedelta(days=7))]
    points = ef.round_trend(frame, resp, rounds)
    assert [(p.period, p.model_version) for p in points] == [
        ("First", "m1"),
        ("First", "m2"),
        ("Second", "m1"),
    ]
    assert points[0].layers["model"]["frr"].estimate == pytest.approx(0.5)
    weeks = ef.weekly_trend(frame, resp)
    assert [(p.period, p.start, p.model_version) for p in weeks] == [
        ("2026-W45", DAY, "m1"),
        ("2026-W45", DAY, "m2"),
        ("2026-W46", DAY + dt.timedelta(days=7), "m1"),
    ]
