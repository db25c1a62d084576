"""The one CSV writer of every download: cells a spreadsheet would run as a formula are quoted.

OWASP's rule for CSV injection: a text cell starting with =, +, -, @, a tab or a carriage return
gets a leading single quote, so a spreadsheet shows it as text instead of evaluating it. Plain
numbers ("-0.25", "+3e-5") are left alone: they are not formulas and must stay numbers. A text
cell that already starts with a quote before such a character (or before another quote) is
quoted once more, so ``cell_unguard`` gives back exactly what was written.

Every CSV the app writes goes through ``csv_writer``; the one exception is the label export on
PostgreSQL, whose COPY query applies this same rule in SQL (``selectors/export_copy.py``).
"""

from __future__ import annotations

import csv
import re
from collections.abc import Iterable
from typing import Any, Protocol

FORMULA_LEADS = frozenset("=+-@\t\r")
# ASCII digits only: "-٣" is no number a spreadsheet knows, so it is quoted like any formula.
# The PostgreSQL export applies the same pattern in SQL (selectors/export_copy.py).
NUMBER_PATTERN = r"[+-]?([0-9]+(\.[0-9]*)?|\.[0-9]+)([eE][+-]?[0-9]+)?"
_NUMBER = re.compile(NUMBER_PATTERN)


class _Writable(Protocol):
    def write(self, text: str, /) -> Any: ...


def _guarded(text: str) -> bool:
    """True when ``cell_unguard`` would strip a quote from ``text`` as read from a file."""
    return len(text) > 1 and text[0] == "'" and (text[1] in FORMULA_LEADS or text[1] == "'")


def cell_guard(value: Any) -> Any:
    """The value to write for one cell; only text is ever changed."""
    if not isinstance(value, str) or not value:
        return value
    if value[0] in FORMULA_LEADS and not _NUMBER.fullmatch(value):
        return "'" + value
    if _guarded(value):
        return "'" + value
    return value


def cell_unguard(text: str) -> str:
    """The cell as it was before ``cell_guard``, for files this app reads back (corpora)."""
    return text[1:] if _guarded(text) else text


class SafeCsvWriter:
    """``csv.writer`` with every cell passed through ``cell_guard``; rows return what they wrote."""

    def __init__(self, stream: _Writable, **fmtparams: Any) -> None:
        self._writer = csv.writer(stream, **fmtparams)

    def writerow(self, row: Iterable[Any]) -> Any:
        return self._writer.writerow([cell_guard(value) for value in row])

    def writerows(self, rows: Iterable[Iterable[Any]]) -> None:
        for row in rows:
            self.writerow(row)


def csv_writer(stream: _Writable, **fmtparams: Any) -> SafeCsvWriter:
    return SafeCsvWriter(stream, **fmtparams)
