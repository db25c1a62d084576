"""The compiled literal sets: each group reported once when one of its literals occurs."""

import pytest

from auditcore.detection.literal_sets import ENGINES, literal_search_set


@pytest.mark.parametrize("engine", ENGINES)
def test_a_group_larger_than_one_hyperscan_expression_is_still_one_group(engine):
    # Thousands of literals: far past the length Hyperscan accepts in one expression.
    many = [f"keyword{n:05d}" for n in range(3000)]
    search = literal_search_set([many, ["needle"], ["absent"]], engine)
    assert search is not None

    assert search(b"text with keyword00007 and keyword02999 and a needle") in ([0, 1], [1, 0])
    assert sorted(search(b"keyword01234 keyword01234 keyword00001")) == [0]
    assert search(b"keyword3000 is not one of them") == []
