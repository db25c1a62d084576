"""Near-duplicate grouping: normalised text, prompt digests, MinHash signatures, LSH bands."""

import random
import unicodedata

import numpy as np

from auditcore import consistency
from auditcore.consistency import (
    MinHasher,
    near_duplicate_groups,
    normalise,
    prompt_digest,
    shingles,
)


def _normalise_by_regex(text: str) -> str:
    """normalise() as written for any text, without its ASCII shortcut."""
    text = unicodedata.normalize("NFKC", text).casefold()
    return consistency._SPACE.sub(" ", consistency._NON_WORD.sub(" ", text)).strip()


def test_normalise_folds_case_punctuation_and_spaces():
    assert normalise("  How DO I\tdispute  a charge?! ") == "how do i dispute a charge"
    assert normalise("Ｆｕｌｌwidth") == "fullwidth"


def test_the_ascii_shortcut_normalises_exactly_as_the_regexes_do():
    ascii_chars = [chr(c) for c in range(128)]
    rng = random.Random(3)
    texts = [*ascii_chars, *("a" + c + "b" for c in ascii_chars)]
    texts += ["".join(rng.choices(ascii_chars, k=rng.randint(0, 40))) for _ in range(3000)]
    for text in texts:
        assert normalise(text) == _normalise_by_regex(text), repr(text)


def test_prompts_that_differ_only_in_case_punctuation_and_spacing_share_a_digest():
    same = prompt_digest("How do I dispute a charge?")
    assert len(same) == consistency.DIGEST_BYTES
    assert prompt_digest("  how DO i dispute, a charge ") == same
    assert prompt_digest("Ｈｏｗ do I dispute a charge?!") == same  # full-width letters fold
    assert prompt_digest("How do I dispute a refund?") != same
    # Prompts without a word are told apart by their text, not all lumped together.
    assert prompt_digest("???") == prompt_digest(" ??? ")
    assert prompt_digest("???") != prompt_digest("!!!")
    assert prompt_digest("???") != prompt_digest("")


def test_signatures_of_many_sets_equal_each_set_hashed_on_its_own():
    hasher = MinHasher()
    rng = random.Random(5)
    words = ["alpha", "beta", "gamma", "delta", "sea", "sky", "burn", "card"]
    sets = [set(rng.choices(words, k=rng.randint(0, 6))) for _ in range(600)]  # > one batch
    together = hasher.signatures(sets)
    for items, signature in zip(sets, together, strict=True):
        hashes = np.array([consistency._hash64(s) % consistency._MERSENNE for s in items])
        if not items:
            expected = np.full(hasher.num_perm, consistency._MERSENNE)
        else:
            modulus = np.uint64(consistency._MERSENNE)
            expected = (
                (hasher.a[:, None] * hashes.astype(np.uint64)) + hasher.b[:, None]
            ) % modulus
            expected = expected.min(axis=1)
        assert np.array_equal(signature, expected)
        assert np.array_equal(hasher.signatures([items])[0], signature)


def test_shingles_of_short_text_is_the_whole_text():
    assert shingles("a b") == {"a b"}
    assert shingles("a b c d") == {"a b c", "b c d"}


def test_signature_similarity_tracks_jaccard():
    hasher = MinHasher(num_perm=256)
    a = shingles(normalise("how should I treat a small burn at home quickly and safely please"))
    b = shingles(normalise("how should I treat a small burn at home quickly and safely"))
    c = shingles(normalise("what is the capital of france and why is it famous today"))
    jaccard = len(a & b) / len(a | b)
    sig_a, sig_b, sig_c = hasher.signatures([a, b, c])
    # The share of equal signature positions estimates the Jaccard similarity.
    assert abs(np.mean(sig_a == sig_b) - jaccard) < 0.1
    assert np.mean(sig_a == sig_c) < 0.1


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


def _groups_pair_by_pair(texts, threshold=0.7, bands=16):
    """near_duplicate_groups as first written: every colliding pair compared on its own."""
    hasher = MinHasher()
    rows = hasher.num_perm // bands
    parent = {key: key for key in texts}

    def find(x):
        while parent[x] != x:
            x = parent[x]
        return x

    by_text = {}
    for key, text in texts.items():
        by_text.setdefault(normalise(text), []).append(key)
    for keys in by_text.values():
        for other in keys[1:]:
            parent[find(other)] = find(keys[0])
    signatures = {t: hasher.signatures([shingles(t)])[0] for t in by_text}
    buckets = {}
    for text, sig in signatures.items():
        for band in range(bands):
            buckets.setdefault((band, sig[band * rows : (band + 1) * rows].tobytes()), []).append(
                text
            )
    for members in buckets.values():
        for i, first in enumerate(members):
            for second in members[i + 1 :]:
                if np.mean(signatures[first] == signatures[second]) >= threshold:
                    parent[find(by_text[second][0])] = find(by_text[first][0])
    groups = {}
    for key in texts:
        groups.setdefault(find(key), []).append(key)
    return sorted(sorted(g) for g in groups.values() if len(g) > 1)


def test_grouping_equals_comparing_every_colliding_pair_on_its_own():
    rng = random.Random(11)
    words = "how do i treat a burn dispute the charge card kill process exploit query plan"
    words = words.split()
    texts = {}
    # Families of variants: long prompts differing in their last word (similar enough to fill
    # large buckets), and small families differing in a word or three anywhere (near the
    # threshold either way), each also in another spelling; and unrelated prompts.
    families = [(80, 30, 1), (40, 30, 1), (60, 12, 3)]
    families += [(rng.randint(2, 4), rng.randint(8, 20), 1) for _ in range(120)]
    for family, (size, length, changed) in enumerate(families):
        base = rng.choices(words, k=length)
        tail_only = size > 30 and changed == 1
        for variant in range(size):
            text = list(base)
            for position in [length - 1] if tail_only else rng.sample(range(length), changed):
                text[position] = f"w{variant}x{position}"
            texts[f"{family}-{variant}"] = " ".join(text)
            texts[f"{family}-{variant}-loud"] = " ".join(text).upper() + "?!"
    for i in range(300):
        texts[f"other-{i}"] = " ".join(rng.choices(words, k=rng.randint(2, 14)))
    distinct = sorted({normalise(t) for t in texts.values()})
    _, large = consistency._buckets(MinHasher().signatures([shingles(t) for t in distinct]), 16)
    assert large  # the block-at-a-time path runs too
    expected = _groups_pair_by_pair(texts)
    assert sorted(sorted(g) for g in near_duplicate_groups(texts)) == expected
