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


@pytest.mark.parametrize("engine", ENGINES)
def test_a_counted_group_is_reported_once_per_occurrence_of_its_literals(engine):
    groups = [["cat", "dog"], ["bird"], ["cow", "sheep"], ["fish"], []]
    search = literal_search_set(groups, engine, counted=[0, 2])
    assert search is not None

    found = search(b"a dog, a cat, a hotdog, a bird, a bird, a cow and a cat-dog")
    assert sorted(found) == [0, 0, 0, 0, 0, 1, 2]
    assert sorted(search(b"fish and sheep, fish and sheep")) == [2, 2, 3]
    assert search(b"nothing here") == []
    # Bytes of multi-byte characters around a literal do not hide it.
    assert sorted(search("ü cat 抱 cat ü".encode())) == [0, 0]


@pytest.mark.parametrize(
    "literals",
    [["ana"], ["aa"], ["note", "please note"], ["abcab"], [""], ["cat", "cat"]],
)
def test_it_refuses_to_count_literals_whose_occurrences_str_count_would_not_add_up(literals):
    # "banana" holds "ana" twice, overlapping, where str.count finds it once; an occurrence of
    # "please note" is one of "note" too: one match would stand for two counts.
    with pytest.raises(ValueError, match="group 0"):
        literal_search_set([literals], counted=[0])


@pytest.mark.parametrize("engine", ENGINES)
def test_an_empty_group_is_never_reported_and_keeps_the_numbering(engine):
    search = literal_search_set([["cat"], [], ["dog"]], engine)
    assert search is not None

    assert sorted(search(b"cat and dog")) == [0, 2]
    assert search(b"") == []
    assert search(bytes(range(256))) == []
