"""Agreement figures against hand-worked values (STATISTICS.md), reviewer accuracy, throughput."""

import pytest

from auditcore.models import Verdict
from auditcore.selectors.agreement import agreement_report, gold_misses
from auditcore.services import review as svc
from tests.support.review_round import items_of, make_round, offered_verdict

pytestmark = pytest.mark.django_db
CODE = {"help": "general_info", "decline": "personal_dosing"}


def verdict(reviewer, item, decision):
    return offered_verdict(
        reviewer=reviewer, item_id=item.pk, decision=decision, reason_code=CODE[decision]
    )


@pytest.fixture
def reviewed(reviewer, second_reviewer, safety_lead):
    """Round 1: A (help, help), B (help, decline). Round 2: C (decline, decline), D (help, help).
    Round 3: E single help, F gold 'decline' answered help by alice."""
    a, b = items_of(make_round(items=2, required_reviews=2))
    c, d = items_of(make_round(items=2, required_reviews=2))
    e, f = items_of(make_round(items=2, required_reviews=1, gold={1: "decline"}))
    for item, (first, second) in {
        a: ("help", "help"),
        b: ("help", "decline"),
        c: ("decline", "decline"),
        d: ("help", "help"),
    }.items():
        verdict(reviewer, item, first)
        verdict(second_reviewer, item, second)
    verdict(reviewer, e, "help")
    verdict(reviewer, f, "help")
    svc.adjudication_record(adjudicator=safety_lead, item_id=b.pk, decision="decline")
    for seconds, v in zip(
        [10, 20, 30, 40, 50, 60],
        Verdict.objects.filter(reviewer=reviewer).order_by("pk"),
        strict=True,
    ):
        Verdict.objects.filter(pk=v.pk).update(seconds_spent=seconds)
    Verdict.objects.filter(reviewer=second_reviewer).update(seconds_spent=7)
    return {"rounds": [a.round, c.round, e.round]}


def test_overall_agreement_matches_the_hand_worked_figures(reviewed):
    # n = 8 verdicts, 5 help / 3 decline, one disagreeing pair on B:
    # alpha = 1 - (n-1) * 1 / (n_help * n_decline) = 1 - 7/15 = 8/15.
    # raw = 3 agreeing items of 4 = 0.75.
    # AC1: pi_help = (1 + .5 + 0 + 1)/4 = .625, p_e = 2 * .625 * .375 = .46875,
    #      (0.75 - 0.46875) / (1 - 0.46875) = 9/17.
    overall = agreement_report().overall
    assert (overall.items, overall.verdicts) == (4, 8)
    assert overall.alpha == pytest.approx(8 / 15)
    assert overall.raw == pytest.approx(0.75)
    assert overall.ac1 == pytest.approx(9 / 17)
    assert overall.alpha_reading == "unreliable"


def test_agreement_per_round_matches_the_hand_worked_figures(reviewed):
    rows = {row.label: row for row in agreement_report().by_round}
    first, second, third = (r.name for r in reviewed["rounds"])
    # Round 1: help 3 / decline 1, one disagreement: alpha = 1 - 3*1/(3*1) = 0;
    # raw 0.5; AC1 = (0.5 - 2*.75*.25) / (1 - .375) = 0.2.
    assert rows[first].alpha == pytest.approx(0.0)
    assert rows[first].raw == pytest.approx(0.5)
    assert rows[first].ac1 == pytest.approx(0.2)
    assert (rows[second].alpha, rows[second].raw, rows[second].ac1) == (1.0, 1.0, 1.0)
    assert rows[second].alpha_reading == "reliable"
    # Round 3 has no item with two verdicts: nothing to report, not zero.
    assert (rows[third].items, rows[third].alpha, rows[third].raw) == (0, None, None)


def test_agreement_per_category_and_filtered_by_round(reviewed):
    report = agreement_report()
    assert [row.label for row in report.by_category] == ["medical"]
    assert report.by_category[0].alpha == pytest.approx(8 / 15)
    only_first = agreement_report(round_id=reviewed["rounds"][0].pk)
    assert only_first.overall.raw == pytest.approx(0.5)


def test_each_reviewers_agreement_with_final_labels_gold_accuracy_and_throughput(reviewed):
    rows = {row.reviewer: row for row in agreement_report().reviewers}
    alice, anna = rows["alice"], rows["anna"]
    # alice: A, B (final decline: wrong), C, D, E right of 5 non-gold finals; gold F wrong.
    assert (alice.verdicts, alice.with_final, alice.agree_with_final) == (6, 5, 0.8)
    assert (alice.gold, alice.gold_accuracy) == (1, 0.0)
    assert alice.median_seconds == 35
    assert (anna.verdicts, anna.agree_with_final, anna.gold_accuracy) == (4, 1.0, None)
    assert anna.median_seconds == 7


def test_gold_misses_are_listed_per_reviewer(reviewed):
    misses = gold_misses()
    assert list(misses) == ["alice"]
    assert [(m.decision, m.expected) for m in misses["alice"]] == [("help", "decline")]


def test_no_verdicts_means_no_figures(db):
    report = agreement_report()
    assert report.overall.alpha is None and report.overall.items == 0
    assert report.reviewers == []
