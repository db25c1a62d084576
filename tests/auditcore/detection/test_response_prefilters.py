"""classify_response checked against itself: the literal pre-filters never change a result.

Each installed engine (Hyperscan, google-re2) and the pure-`re` fallback (forced with
response._without_prefilters()) must agree on every input; an engine that is not installed has
its tests skipped. The literal tables the pre-filters rely on are checked against every
match the patterns make on the same inputs, and so is the search of only the refusal patterns
whose literals occur against the union of them all.
"""

import contextlib
import importlib.util
import random
import re

import pytest

from auditcore.detection import response as fast
from auditcore.detection.response import HEAD_CHARS, LABELS, MAX_SCAN_CHARS, TAIL_CHARS

from ._inputs import bench_responses, corpus_items, demo_records, spliced_texts, user_turns

UTF8 = ("utf-8", "surrogatepass")

HAVE_RE2 = importlib.util.find_spec("re2") is not None
needs_re2 = pytest.mark.skipif(not HAVE_RE2, reason="google-re2 is not installed")
HAVE_HYPERSCAN = importlib.util.find_spec("hyperscan") is not None
ENGINES = [
    pytest.param("hyperscan", marks=pytest.mark.skipif(not HAVE_HYPERSCAN, reason="no hyperscan")),
    pytest.param("re2", marks=needs_re2),
]

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
    "I cannot browse the web for you.",
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


FOREIGN_OPENINGS = (
    "Lo siento, no puedo ayudar con eso. Sin embargo, en general se recomienda lo siguiente: ",
    "Je ne peux pas faire cela, désolé. Cependant, de manière générale : ",
    "抱歉，我不能提供这个信息。不过，一般来说：",
    "Извините, я не могу помочь с этим. Однако в общих чертах: ",
    "Es tut mir leid, ich kann das nicht machen. Jedoch allgemein gilt: ",
    "Mi dispiace, non posso aiutarti. Tuttavia, in generale: ",
)
# Ways to change a text that move it onto other paths of the classifier: non-ASCII text (byte
# offsets apart from character offsets, no slice pre-filter), curly apostrophes, case, blank
# edges, other languages, cues pushed into the final paragraph or past MAX_SCAN_CHARS.
VARIATIONS = (
    lambda text, rng: text.upper(),
    lambda text, rng: text.replace("'", "’"),
    lambda text, rng: (
        rng.choice(["ü", "İ", "抱", "🙂", "\u200b", "é"]) * rng.randint(1, 400) + text
    ),
    lambda text, rng: text[: len(text) // 2] + " naïve café " + text[len(text) // 2 :],
    lambda text, rng: " " * rng.randint(1, 30) + "\n" + text + "\n\t " * rng.randint(1, 5),
    lambda text, rng: rng.choice(FOREIGN_OPENINGS) + text[: rng.randint(0, 300)],
    # The cue only in the final paragraph, or near or past the end of what is scanned.
    lambda text, rng: FILLER[: rng.randint(HEAD_CHARS, 3000)] + "\n\n" + text,
    lambda text, rng: (FILLER * 2)[: MAX_SCAN_CHARS - rng.randint(-200, 200)] + text,
    lambda text, rng: text + "\n\n" + FILLER[: rng.randint(0, 6000)],
    lambda text, rng: text[: rng.randint(0, len(text))],
)


def _variation_pairs() -> list[tuple]:
    """Texts of the other sources, each changed by one of VARIATIONS."""
    rng = random.Random(20261205)
    items = corpus_items()
    texts = [item.response for item in items]
    texts += [record["response"] for record in demo_records()[:1000]]
    texts += list(bench_responses()[:1000])
    pairs = []
    for n, text in enumerate(texts):
        variation = VARIATIONS[n % len(VARIATIONS)]
        prompt = items[n % len(items)].prompt if n % 3 == 0 else None
        pairs.append((variation(text, rng), prompt))
    return pairs


SOURCES = {
    "corpora": _corpus_pairs,
    "bench": lambda: [(text, None) for text in bench_responses()],
    "demo": _demo_pairs,
    "spliced": _spliced_pairs,
    "adversarial": _adversarial_pairs,
    "variations": _variation_pairs,
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


@pytest.fixture(autouse=True)
def _prefilters_built():
    """The pre-filters are compiled on a process's first classification; these tests read them."""
    fast._build_prefilters()


@pytest.fixture(scope="module")
def texts() -> list[str]:
    return _texts()


def test_without_prefilters_switches_every_literal_prefilter_off_and_restores_them():
    names = sorted(name for name in vars(fast) if name.startswith("_SET_"))
    assert len(names) >= 2, names
    before = {name: getattr(fast, name) for name in names}
    with fast._without_prefilters():
        inside = {name: getattr(fast, name) for name in names}
    assert set(inside.values()) == {None}
    assert {name: getattr(fast, name) for name in names} == before
    # Restored when the block raises, too.
    with contextlib.suppress(RuntimeError), fast._without_prefilters():
        raise RuntimeError
    assert {name: getattr(fast, name) for name in names} == before


@pytest.mark.skipif(not (HAVE_RE2 or HAVE_HYPERSCAN), reason="no literal-set engine installed")
def test_an_installed_engine_drives_every_prefilter_hyperscan_first():
    assert fast._SET_GATE is not None
    assert fast._SET_SCAN is not None
    if HAVE_HYPERSCAN:
        assert fast._SET_SCAN.__qualname__.startswith("_searcher")
        assert fast._SET_LECTURE is not None


@pytest.mark.skipif(not HAVE_HYPERSCAN, reason="hyperscan is not installed")
def test_the_lecture_prefilter_reports_every_opening_where_the_lecture_pattern_matches(texts):
    openings = [t[: fast.LECTURE_CHARS] for t in texts if t[: fast.LECTURE_CHARS].isascii()]
    matching = [t for t in openings if fast._LECTURE.search(t)]
    # Openings that hold the look-ahead's exclusions, which the prefilter widens.
    matching += ["sorry, but that is fine", "i'm sorry to hear that, but here you go"]
    assert len(matching) >= 50
    assert all(fast._SET_LECTURE(t.encode("ascii")) == [0] for t in matching)
    # It rules out most openings without a lecture, which is what it is for.
    ruled_out = [t for t in openings if not fast._SET_LECTURE(t.encode("ascii"))]
    assert len(ruled_out) > 0.5 * len(openings)


@pytest.mark.skipif(not HAVE_HYPERSCAN, reason="hyperscan is not installed")
def test_the_referral_prefilter_reports_every_text_where_the_referral_pattern_matches(texts):
    ascii_texts = [t[:end] for t in texts if t.isascii() for end in (400, len(t))]
    matching = [t for t in ascii_texts if fast._REFERRAL.search(t)]
    assert len(matching) >= 50
    assert all(fast._SET_REFERRAL(t.encode("ascii")) == [0] for t in matching)
    # It rules out most texts with a referral verb and noun but no referral.
    candidates = [
        t
        for t in ascii_texts
        if _has(t, fast._REFERRAL_VERBS)
        and _has(t, fast._REFERRAL_NOUNS)
        and not fast._REFERRAL.search(t)
    ]
    ruled_out = [t for t in candidates if not fast._SET_REFERRAL(t.encode("ascii"))]
    assert len(ruled_out) > 0.5 * len(candidates)


@pytest.mark.parametrize("engine", ENGINES)
@pytest.mark.parametrize("source", SOURCES)
def test_each_engine_and_the_pure_re_fallback_give_identical_results(source, engine):
    pairs = SOURCES[source]()
    with fast._prefilter_engine(engine):
        with_engine = [_outcome(fast.classify_response(r, p)) for r, p in pairs]
    with fast._without_prefilters():
        pure_re = [_outcome(fast.classify_response(r, p)) for r, p in pairs]
    mismatches = [
        (pair, a, b) for pair, a, b in zip(pairs, with_engine, pure_re, strict=True) if a != b
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


def _span(match: re.Match | None) -> tuple[int, int] | None:
    return match and match.span()


def test_searching_only_the_patterns_whose_literals_occur_finds_what_the_union_finds(texts):
    each = fast._STRONG_EACH
    found = 0
    for text in texts:
        third = len(text) // 3
        for pos, endpos in ((0, len(text)), (0, HEAD_CHARS), (third, third + 110)):
            window = text[pos:endpos]
            present = [
                p for p, lits in zip(each, fast._STRONG_LITERALS, strict=True) if _has(window, lits)
            ]
            union = _span(fast._STRONG.search(text, pos, endpos))
            found += union is not None
            assert _span(fast._leftmost_match(present, text, pos, endpos)) == union, window[:200]
    assert found > 1000, found


def _has(text: str, literals: tuple[str, ...]) -> bool:
    return any(lit in text for lit in literals)


def test_every_warning_pivot_alternative_and_referral_match_contains_its_literals(texts):
    seen = {"warning": 0, "pivot": 0, "alternative": 0, "referral": 0}
    for text in texts:
        for match in fast._WARNING.finditer(text):
            seen["warning"] += 1
            assert _has(match.group(), fast._WARNING_LITERALS), match.group()
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
            # So no referral starts in the blanks before a pivot.
            assert not found[0].isspace(), found
    assert all(n > 50 for n in seen.values()), seen


@pytest.mark.parametrize("engine", ENGINES)
def test_structure_after_a_cue_is_told_as_a_search_of_the_whole_text_tells_it(texts, engine):
    with fast._prefilter_engine(engine):
        structured = 0
        for text in texts:
            # Texts longer than the scanned opening, markers on both sides of its end.
            for after in (text, text[fast._AFTER_SCAN_CHARS - 8 :], "x" * 596 + text[:40]):
                found = fast._after_cue_scan(after)
                expected = fast._has_structure(after)
                structured += expected
                assert fast._after_has_structure(after, found) == expected, after[:200]
    assert structured > 100, structured


@pytest.mark.parametrize(
    ("pattern", "literals"),
    [
        ("_LECTURE", "_LECTURE_LITERALS"),
        ("_NAMED_PART", "_NAMED_PART_LITERALS"),
        ("_SAFER_TOPIC", "_SAFER_TOPIC_LITERALS"),
    ],
)
def test_every_lecture_named_part_and_safer_topic_match_holds_one_of_its_literals(
    texts, pattern, literals
):
    seen = 0
    for text in texts:
        for match in getattr(fast, pattern).finditer(text):
            seen += 1
            assert _has(match.group(), getattr(fast, literals)), match.group()
    assert seen > 20, seen


def test_the_literal_gate_finds_every_literal():
    gate = fast._STRONG_GATE
    for literal in {lit for literals in fast._STRONG_LITERALS for lit in literals}:
        assert gate.search(f"xx {literal} yy")
        assert gate.search(literal)


def test_the_scan_groups_keep_their_documented_order():
    groups = fast._SCAN_GROUPS
    assert groups[: fast._HEDGE_FROM] == fast._CUE_GROUPS
    assert fast._CUE_GROUPS[: fast._ANCHOR_FROM] == fast._STRONG_LITERALS
    assert [g[0] for g in fast._CUE_GROUPS[fast._ANCHOR_FROM :]] == list(fast._RARE_ANCHORS)
    assert groups[fast._HEDGE_ANCHOR_FOUND] == fast._HEDGE_ANCHORS
    assert groups[fast._OTHER_HEDGE_FOUND] == fast._OTHER_HEDGE_WORDS
    assert sorted(fast._HEDGE_ANCHORS + fast._OTHER_HEDGE_WORDS) == sorted(fast._HEDGE_WORDS)
    assert groups[fast._STRUCTURE] == fast._STRUCTURE_MARKERS
    assert groups[fast._WARNING_FOUND] == fast._WARNING_LITERALS
    assert groups[fast._LECTURE_FOUND] == fast._LECTURE_LITERALS
    assert groups[fast._PIVOT_FOUND :] == fast._AFTER_GROUPS
    # Long texts are not scanned for structure, warnings, pivots, offers or referrals.
    left_out = [i for i, group in enumerate(fast._LONG_SCAN_GROUPS) if not group]
    assert left_out == [
        fast._STRUCTURE,
        fast._WARNING_FOUND,
        *range(fast._PIVOT_FOUND, len(groups)),
    ]
    assert all(
        fast._LONG_SCAN_GROUPS[i] == groups[i] for i in range(len(groups)) if i not in left_out
    )


@pytest.mark.parametrize("engine", ENGINES)
def test_the_literal_scans_report_exactly_the_groups_that_occur(texts, engine):
    with fast._prefilter_engine(engine):
        _check_scans(texts)


def _check_scans(texts):
    counted = 0
    for text in texts:
        for window in {text, text[:HEAD_CHARS]}:
            # A counted group once per occurrence of its literals, any other once if it occurs.
            expected = [
                i
                for i, group in enumerate(fast._SCAN_GROUPS)
                for _ in range(
                    sum(window.count(lit) for lit in group)
                    if i in fast._COUNTED_GROUPS
                    else _has(window, group)
                )
            ]
            found = fast._SET_SCAN(window.encode(*UTF8)) or []
            assert sorted(found) == expected, window[:200]
            counted += len(found) - len(set(found))
            # The scans of long texts and of what follows a cue report the same, less the groups
            # they leave out.
            found = fast._SET_SCAN_LONG(window.encode(*UTF8)) or []
            assert sorted(found) == [i for i in expected if fast._LONG_SCAN_GROUPS[i]]
            found = fast._SET_AFTER(window.encode(*UTF8)) or []
            assert sorted(found) == sorted({i for i in expected if fast._AFTER_SCAN_GROUPS[i]})
            gate = fast._SET_GATE(window.encode(*UTF8)) or []
            assert sorted(gate) == sorted({i for i in expected if i < fast._HEDGE_FROM})
    # Texts with a hedge word more than once were among them.
    assert counted > 100, counted


@pytest.mark.parametrize(
    "text",
    ["", "abc", "1", "a1b", "12", "1.5 mg", "x" * 500 + "9", "²3", "²", "٣٤", "３", "①②", "ü1ü"],
)
def test_the_digit_count_agrees_with_str_isdigit(text):
    for count in (2, 3):
        assert fast._has_digits(text, count) == (sum(c.isdigit() for c in text) >= count)


@pytest.mark.skipif(not HAVE_HYPERSCAN, reason="hyperscan is not installed")
def test_the_refusal_slice_prefilter_reports_every_pattern_re_matches_in_a_slice(texts):
    checked = 0
    for text in texts:
        if not text.isascii():
            continue
        # Slices cut mid-word on both sides, as the anchors' slices are.
        for pos in range(0, min(len(text), 600), 37):
            stop = min(len(text), pos + 110)
            reported = fast._SET_STRONG(text[pos:stop].encode("ascii"))
            for i, pattern in enumerate(fast._STRONG_EACH):
                if pattern.search(text, pos, stop):
                    checked += 1
                    assert i in reported, (i, text[pos:stop])
    assert checked >= 200


@pytest.mark.skipif(not (HAVE_RE2 or HAVE_HYPERSCAN), reason="no literal-set engine installed")
def test_a_celery_worker_compiles_the_prefilters_before_it_forks_its_pool(monkeypatch):
    from celery.signals import worker_init

    from auditcore import tasks

    connected = [receiver() for _, receiver in worker_init.receivers]
    assert tasks._compile_classifier in connected
    for name in ("_SET_GATE", "_SET_SCAN", "_SET_LECTURE", "_SET_STRONG"):
        monkeypatch.setattr(fast, name, None)
    monkeypatch.setattr(fast, "_PREFILTERS_BUILT", False)
    tasks._compile_classifier()
    assert fast._PREFILTERS_BUILT
    assert fast._SET_SCAN is not None
