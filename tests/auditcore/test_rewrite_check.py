"""Did the rewrite work: a category's rates before and after a published rewrite."""

import pytest

from auditcore.selectors import insights as ins
from tests.support.rewrite_data import AFTER_DAY, BEFORE_DAY, coding_round, rewrite_coding

pytestmark = pytest.mark.django_db


def test_a_rewrite_that_lowers_false_refusals_shows_the_drop_with_an_interval_excluding_zero():
    v1, v2 = rewrite_coding()
    coding_round("Before", BEFORE_DAY, refused=40)
    coding_round("After", AFTER_DAY, refused=10, version=v2)
    [check] = ins.rewrite_checks(v2)
    assert check.category == "coding"
    assert check.previous == v1
    assert [r.name for r in check.old_rounds] == ["Before"]
    assert [r.name for r in check.new_rounds] == ["After"]
    frr = check.changes[0]
    assert frr.rate == "frr"
    assert frr.before.estimate == pytest.approx(0.40)
    assert frr.after.estimate == pytest.approx(0.10)
    assert frr.difference.difference == pytest.approx(-0.30)
    assert frr.difference.difference_upper < 0
    trr = check.changes[1]
    assert trr.before.estimate == pytest.approx(0.75)
    assert trr.after.estimate == pytest.approx(0.75)
    assert trr.difference.difference_lower < 0 < trr.difference.difference_upper


def test_without_a_later_round_there_is_no_after():
    _, v2 = rewrite_coding()
    coding_round("Before", BEFORE_DAY, refused=40)
    [check] = ins.rewrite_checks(v2)
    assert not check.has_after
    assert check.changes[0].after is None
    assert check.changes[0].difference is None
    assert check.changes[0].before.estimate == pytest.approx(0.40)
