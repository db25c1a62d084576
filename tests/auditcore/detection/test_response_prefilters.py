"""classify_response checked against itself: the google-re2 pre-filters never change a result.

With google-re2 installed, the re2 path and the pure-`re` fallback (forced with
response._without_re2()) must agree on every input; without it only the fallback exists and the
re2-specific tests skip. The literal tables the pre-filters rely on are checked against every
match the patterns make on the same inputs.
"""

import contextlib
import importlib.util
import re

import pytest

from auditcore.detection import response as fast
from auditcore.detection.response import HEAD_CHARS, LABELS, MAX_SCAN_CHARS, TAIL_CHARS

from ._inputs import bench_responses, corpus_items, demo_records, spliced_texts, user_turns

HAVE_RE2 = importlib.util.find_spec("re2") is not None
needs_re2 = pytest.mark.skipif(not HAVE_RE2, reason="google-re2 is not installed")

CUES = (
    "I can't help with that.",
    "I'm sorry, but I cannot do this.",
    "Unfortunately I'm not able to provide that",
    "I must respectfully decline.",
    "That goes against my guidelines",
    "As a responsible AI, no.",
    "It is not appropriate for me to answer",
    "Request declined.",
    "I don't have access to real-time data.",
    "I'd rather not.",
    "I can't stress enough how useful this is",
    "if I can't help, ask again",
)
FILLER = "Here is a plain sentence about soil, water and light for tomatoes. " * 100
HEDGES = "Please note this is not a substitute for professional advice; consult an expert. "


def _adversarial_pairs() -> list[tuple]:
    """Degenerate inputs, and cues placed on every edge of the head, tail and scan windows."""
    texts: list = [
        None, "", " ", "\n\t", b"I can't", bytearray(b"sorry, I can't"), 42,
        "\ud800 sorry \udfff", "ü" * 500 + "i can't help", "“no” — 抱歉 i must decline",
        "No.", "nope", "I can't.", "I CAN’T HELP WITH THAT", "İ" * 300 + " i won't write it",
        "\x00i can't\x00", "x" * 10_000, "not " * 3000, "sorry " * 2000, HEDGES * 40,
        "Lo siento, no puedo ayudar con eso.", "Je ne peux pas faire cela, désolé.",
        "抱歉，我不能提供这个信息。", "Ich kann das leider nicht machen.",
        "Sorry for the confusion earlier. Here is the corrected code:\n```\nx = 1\n```",
    ]  # fmt: skip
    for cue in CUES:
        # The head window: the cue starts before, across and after its edge.
        for at in range(HEAD_CHARS - len(cue) - 6, HEAD_CHARS + 6, 2):
            for tail in ("", FILLER[:150], FILLER[:700]):
                texts.append(FILLER[:at] + cue + " " + tail)
                texts.append(FILLER[:at].replace(" ", "ü") + cue + tail)
        # The tail window, with and without a paragraph break near its start.
        for n in (HEAD_CHARS + 50, 900, 2000):
            for back in (TAIL_CHARS - 5, TAIL_CHARS, TAIL_CHARS + 5, 2 * TAIL_CHARS + 5):
                head = FILLER[: max(0, n - back)]
                texts.append(head + cue + FILLER[: max(0, back - len(cue))])
                texts.append(head + "\n\n" + cue + FILLER[: max(0, back - len(cue) - 2)])
        # Text beyond MAX_SCAN_CHARS is never looked at.
        for shift in (-len(cue), -3, 0, 3):
            texts.append((FILLER * 2)[: MAX_SCAN_CHARS + shift] + cue)
        texts.append(HEDGES * 6 + cue + " " + HEDGES * 3 + "\n1. step\n2. step")
    pairs: list[tuple] = [(text, None) for text in texts]
    pairs += [(text, "Can you help me with my tomatoes?") for text in texts[::3]]
    return pairs


def _corpus_pairs() -> list[tuple]:
    items = corpus_items()
    return [(i.response, i.prompt) for i in items] + [(i.response, None) for i in items]


def _demo_pairs() -> list[tuple]:
    pairs = []
    for record in demo_records():
        turns = user_turns(record)
        pairs.append((record["response"], turns[-1] if turns else None))
        if record["served_response"]:
            pairs.append((record["served_response"], None))
    return pairs


def _spliced_pairs() -> list[tuple]:
    prompts = [item.prompt for item in corpus_items()]
    return [
        (text, prompts[i % len(prompts)] if i % 2 else None)
        for i, text in enumerate(spliced_texts())
    ]


SOURCES = {
    "corpora": _corpus_pairs,
    "bench": lambda: [(text, None) for text in bench_responses()],
    "demo": _demo_pairs,
    "spliced": _spliced_pairs,
    "adversarial": _adversarial_pairs,
}


def _outcome(result: fast.ResponseResult) -> tuple:
    return (
        result.label,
        result.score,
        result.cues,
        result.language_supported,
        result.detector_version,
    )


def _texts() -> list[str]:
    """Lower-cased texts of every source, as the classifier sees them."""
    texts = [t for name in SOURCES for t, _ in SOURCES[name]() if isinstance(t, str)]
    return list(dict.fromkeys(t.lower().replace("’", "'") for t in texts))


@pytest.fixture(scope="module")
def texts() -> list[str]:
    return _texts()


def test_without_re2_switches_every_re2_prefilter_off_and_restores_them():
    names = sorted(name for name in vars(fast) if name.startswith("_RE2_"))
    assert len(names) >= 3, names
    before = {name: getattr(fast, name) for name in names}
    with fast._without_re2():
        inside = {name: getattr(fast, name) for name in names}
    assert set(inside.values()) == {None}
    assert {name: getattr(fast, name) for name in names} == before
    # Restored when the block raises, too.
    with contextlib.suppress(RuntimeError), fast._without_re2():
        raise RuntimeError
    assert {name: getattr(fast, name) for name in names} == before


@needs_re2
def test_google_re2_when_installed_drives_every_prefilter():
    assert fast._RE2_GATE is not None
    assert fast._RE2_SCAN is not None
    assert fast._RE2_AFTER_SCAN is not None


@needs_re2
@pytest.mark.parametrize("source", SOURCES)
def test_the_re2_path_and_the_pure_re_fallback_give_identical_results(source):
    pairs = SOURCES[source]()
    with_re2 = [_outcome(fast.classify_response(r, p)) for r, p in pairs]
    with fast._without_re2():
        pure_re = [_outcome(fast.classify_response(r, p)) for r, p in pairs]
    mismatches = [
        (pair, a, b) for pair, a, b in zip(pairs, with_re2, pure_re, strict=True) if a != b
    ]
    assert not mismatches, (
        f"{len(mismatches)} of {len(pairs)} differ, first: {mismatches[0]!r:.800}"
    )
    # The inputs reach every label and many rules, so the agreement means something.
    assert {o[0] for o in pure_re} == set(LABELS)
    assert len({o[2] for o in pure_re}) >= (3 if source == "bench" else 5)


def test_the_refusal_patterns_keep_the_invariants_the_union_regex_relies_on(texts):
    assert all(p.startswith(r"\b") for p in fast._STRONG_PATTERNS)
    assert set(fast._HEDGE_ANCHORS) <= set(fast._HEDGE_WORDS)
    assert set(fast._RARE_ANCHORS) | set(fast._COMMON_ANCHORS) == set(fast._STRONG_ANCHORS)
    union = re.compile("|".join(f"(?:{p})" for p in fast._STRONG_PATTERNS))
    for text in texts:
        assert [m.span() for m in fast._STRONG.finditer(text)] == [
            m.span() for m in union.finditer(text)
        ], text[:200]


def test_every_refusal_pattern_match_contains_one_of_its_literals(texts):
    assert len(fast._STRONG_LITERALS) == len(fast._STRONG_PATTERNS)
    patterns = [re.compile(p) for p in fast._STRONG_PATTERNS]
    seen = [0] * len(patterns)
    for text in texts:
        for i, (pattern, literals) in enumerate(zip(patterns, fast._STRONG_LITERALS, strict=True)):
            for match in pattern.finditer(text):
                seen[i] += 1
                assert match.group()[0] in fast._STRONG_FIRST_LETTERS, (i, match.group())
                assert any(lit in match.group() for lit in literals), (i, match.group())
    # Most patterns were exercised (a few are rare phrasings).
    assert sum(1 for n in seen if n) >= len(patterns) - 4, seen


def _has(text: str, literals: tuple[str, ...]) -> bool:
    return any(lit in text for lit in literals)


def test_every_pivot_alternative_and_referral_match_contains_its_literals(texts):
    seen = {"pivot": 0, "alternative": 0, "referral": 0}
    for text in texts:
        for match in fast._PIVOT.finditer(text):
            seen["pivot"] += 1
            assert _has(match.group(), fast._PIVOT_LITERALS), match.group()
        for match in fast._ALTERNATIVE.finditer(text):
            seen["alternative"] += 1
            assert _has(match.group(), fast._ALTERNATIVE_LITERALS), match.group()
        for match in fast._REFERRAL.finditer(text):
            seen["referral"] += 1
            found = match.group()
            assert (
                _has(found, fast._REFERRAL_VERBS) and _has(found, fast._REFERRAL_NOUNS)
            ) or _has(found, fast._REFERRAL_HOTLINES), found
    assert all(n > 50 for n in seen.values()), seen


def test_the_literal_gate_finds_every_literal():
    gate = fast._STRONG_GATE
    for literal in fast._STRONG_LITERAL_SET:
        assert gate.search(f"xx {literal} yy")
        assert gate.search(literal)


@needs_re2
def test_the_re2_scan_reports_exactly_the_literals_that_occur(texts):
    literals = fast._STRONG_LITERAL_SET + fast._HEDGE_WORDS + fast._STRUCTURE_MARKERS
    for text in texts:
        expected = {i for i, lit in enumerate(literals) if lit in text}
        found = fast._RE2_SCAN(text.encode("utf-8", "surrogatepass")) or []
        assert set(found) == expected, text[:200]
        gate = fast._RE2_GATE(text.encode("utf-8", "surrogatepass")) or []
        assert set(gate) == {i for i in expected if i < fast._HEDGE_FROM}


@needs_re2
def test_the_after_cue_scan_reports_exactly_the_literals_that_occur(texts):
    literals = [lit for group in fast._AFTER_GROUPS for lit in group]
    for text in texts:
        window = text[: fast._AFTER_SCAN_CHARS]
        expected = {i for i, lit in enumerate(literals) if lit in window}
        found = fast._RE2_AFTER_SCAN(window.encode("utf-8", "surrogatepass")) or []
        assert set(found) == expected, window[:200]
