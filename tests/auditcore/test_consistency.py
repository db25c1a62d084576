"""Near-duplicate grouping: normalised text, MinHash signatures, LSH bands."""

from auditcore.consistency import (
    MinHasher,
    near_duplicate_groups,
    normalise,
    shingles,
    similarity,
)


def test_normalise_folds_case_punctuation_and_spaces():
    assert normalise("  How DO I\tdispute  a charge?! ") == "how do i dispute a charge"
    assert normalise("Ｆｕｌｌwidth") == "fullwidth"


def test_shingles_of_short_text_is_the_whole_text():
    assert shingles("a b") == {"a b"}
    assert shingles("a b c d") == {"a b c", "b c d"}


def test_signature_similarity_tracks_jaccard():
    hasher = MinHasher(num_perm=256)
    a = shingles(normalise("how should I treat a small burn at home quickly and safely please"))
    b = shingles(normalise("how should I treat a small burn at home quickly and safely"))
    c = shingles(normalise("what is the capital of france and why is it famous today"))
    jaccard = len(a & b) / len(a | b)
    assert abs(similarity(hasher.signature(a), hasher.signature(b)) - jaccard) < 0.1
    assert similarity(hasher.signature(a), hasher.signature(c)) < 0.1


def test_groups_join_equal_and_near_texts_and_leave_others_alone():
    texts = {
        1: "How do I dispute a charge on my card?",
        2: "how do i dispute a charge on my card",
        3: "How do I dispute a charge on my credit card?",
        4: "Write a poem about the sea and the sky at night",
        5: "Explain photosynthesis to a ten year old child simply",
    }
    groups = [sorted(g) for g in near_duplicate_groups(texts, threshold=0.5)]
    assert [1, 2] in groups or [1, 2, 3] in groups
    assert all(4 not in g and 5 not in g for g in groups)


def test_no_groups_without_duplicates():
    assert near_duplicate_groups({1: "alpha beta gamma delta", 2: "one two three four"}) == []
