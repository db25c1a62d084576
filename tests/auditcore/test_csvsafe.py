"""The CSV writer's cell rule: formulas quoted, numbers kept, and quoting undone exactly."""

import pytest
from hypothesis import given
from hypothesis import strategies as st

from auditcore.csvsafe import cell_guard, cell_unguard


@pytest.mark.parametrize(
    ("value", "written"),
    [
        ("=1+1", "'=1+1"),
        ("+1+1", "'+1+1"),
        ("-2+3", "'-2+3"),
        ("@SUM(A1)", "'@SUM(A1)"),
        ("\t=1", "'\t=1"),
        ("\r=1", "'\r=1"),
        ("-0.25", "-0.25"),
        ("+3e-5", "+3e-5"),
        ("'=quoted", "''=quoted"),
        ("'Twas", "'Twas"),
        ("plain", "plain"),
        ("", ""),
        (-3, -3),
        (None, None),
    ],
)
def test_formula_cells_are_quoted_and_numbers_kept(value, written):
    assert cell_guard(value) == written


@given(st.text())
def test_reading_back_gives_exactly_what_was_written(text):
    assert cell_unguard(cell_guard(text)) == text
