"""The dashboard reuses the item rows it has read: same validation rows and examples as the queries.

dashboard_figures passes its item rows and strata to classifier_validation and picks the
confirmed false refusals from those rows; both must equal the stand-alone queries exactly,
including multiple verdicts, superseded verdicts, blank observed labels, gold items and items
drawn outside any stratum.
"""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from auditcore.models import RoundItem, RoundStratum, Verdict
from auditcore.selectors import estimates as sel
from tests.factories import VerdictFactory
from tests.support.estimate_rounds import build_round, golden_strata

pytestmark = pytest.mark.django_db


def _verdict(item, reviewer, observed, superseded=False):
    VerdictFactory(item=item, reviewer=reviewer, observed_label=observed, superseded=superseded)


@pytest.fixture
def reviewed_round(reviewer, second_reviewer):
    strata = golden_strata()
    strata.append(
        {
            "key": "E",
            "category": "medical",
            "outcome": "partial_refusal",
            "model": "m2",
            "population": 30,
            "items": [
                {"weight": 3, "final": "help"},
                {"weight": 7, "final": "help"},
                {"weight": 7, "final": "help"},  # a weight tie: the lower id first
                {"weight": 2, "final": "decline"},
            ],
        }
    )
    audit_round = build_round(strata)
    items = list(RoundItem.objects.filter(round=audit_round).order_by("id"))
    labels = ["refusal", "compliance", "partial_refusal", "refusal", "", "compliance"]
    for i, item in enumerate(items):
        _verdict(item, reviewer, labels[i % len(labels)], superseded=(i % 5 == 4))
        if i % 2 == 0:
            _verdict(item, second_reviewer, labels[(i + 1) % len(labels)])
    # An item drawn outside any stratum (a stray) keeps its verdicts under "—".
    stray = next(i for i in items if not i.is_gold)
    RoundItem.objects.filter(pk=stray.pk).update(stratum=None)
    return audit_round


def test_classifier_validation_from_rows_equals_the_query(reviewed_round):
    ids = [reviewed_round.pk]
    strata = {
        pk: (category, model)
        for pk, category, model in RoundStratum.objects.filter(round_id__in=ids).values_list(
            "id", "category", "model_version__name"
        )
    }
    from_rows = sel.classifier_validation(ids, sel.item_rows(ids), strata, layer="model")
    queried = sel.classifier_validation(ids, layer="model")
    assert from_rows == queried
    assert [list(r.confusion) for r in from_rows] == [list(r.confusion) for r in queried]
    assert any(r.category == "—" for r in queried)
    assert (
        sum(r.observed for r in queried)
        == Verdict.objects.filter(item__round=reviewed_round, item__is_gold=False, superseded=False)
        .exclude(observed_label="")
        .count()
    )


def test_round_estimates_validation_equals_the_query(reviewed_round):
    estimates = sel.round_estimates(reviewed_round)
    assert estimates.validation == sel.classifier_validation([reviewed_round.pk])


def _examples(audit_round, limit=sel.EXAMPLE_LIMIT, layer="served"):
    scope = sel.round_scope(audit_round)
    return sel.dashboard_figures(scope=scope, layer=layer, examples=limit).examples


@pytest.mark.parametrize("limit", [1, 2, 3, 50])
def test_examples_from_rows_equal_the_query(reviewed_round, limit):
    queried = sel.false_refusal_examples([reviewed_round.pk], limit, layer="model")
    assert _examples(reviewed_round, limit, layer="model") == queried
    assert len(queried) == min(limit, 5)  # A's two helps, E's three
    assert {e.cause for e in queried} == {"model"}


def test_served_examples_add_the_refusals_the_gateway_added(reviewed_round):
    served = sel.false_refusal_examples([reviewed_round.pk])
    assert _examples(reviewed_round) == served
    model = {e.item_id for e in sel.false_refusal_examples([reviewed_round.pk], layer="model")}
    added = [e for e in served if e.item_id not in model]
    # B's first item: the model complied, the gateway replaced the answer with a refusal.
    assert [e.cause for e in added] == ["gateway"]
    assert {e.item_id for e in served} >= model


def test_examples_from_rows_with_nothing_confirmed_read_nothing():
    audit_round = build_round(golden_strata()[2:])
    scope = sel.round_scope(audit_round)
    with CaptureQueriesContext(connection) as without:
        sel.dashboard_figures(scope=scope, layer="served")
    with CaptureQueriesContext(connection) as picking:
        figures = sel.dashboard_figures(scope=scope, layer="served", examples=sel.EXAMPLE_LIMIT)
    assert figures.examples == []
    assert len(picking) == len(without)
