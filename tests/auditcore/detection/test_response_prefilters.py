"""The literal pre-filters of classify_response never hide a match, with or without google-re2."""

import random
import re

import pytest

from auditcore.demo_data import generate_records
from auditcore.detection import response as fast
from auditcore.detection.report import DEV_CORPUS_PATH, HELD_OUT_PATH, load_corpus

from . import _reference_response as reference
from .test_response_speed_equivalence import _assert_same, _bench_generate, _prompt_of

SAMPLE = 5_000


def _texts() -> list[str]:
    items = load_corpus(DEV_CORPUS_PATH) + load_corpus(HELD_OUT_PATH)
    records = list(generate_records(SAMPLE, seed=23))
    texts = [item.response for item in items] + _bench_generate(SAMPLE)
    texts += [r["response"] for r in records] + [r["served_response"] or "" for r in records]
    pieces = [p for item in items for p in item.response.replace("\n", ". \n").split(". ") if p]
    rng = random.Random(99)
    for _ in range(SAMPLE):
        texts.append(
            rng.choice([". ", "\n\n", " ", ""]).join(rng.sample(pieces, rng.randint(1, 9)))
        )
    texts += ["", "ü" * 500 + "i can't help", "\ud800 sorry \udfff", "“no” — 抱歉 i must decline"]
    return [t.lower().replace("’", "'") for t in texts]


def test_every_refusal_pattern_match_contains_one_of_its_literals():
    assert len(fast._STRONG_LITERALS) == len(fast._STRONG_PATTERNS)
    patterns = [re.compile(p) for p in fast._STRONG_PATTERNS]
    seen = [0] * len(patterns)
    for text in _texts():
        for i, (pattern, literals) in enumerate(zip(patterns, fast._STRONG_LITERALS, strict=True)):
            for match in pattern.finditer(text):
                seen[i] += 1
                assert any(lit in match.group() for lit in literals), (i, match.group())
    # Most patterns were exercised (a few are rare phrasings).
    assert sum(1 for n in seen if n) >= len(patterns) - 4, seen


def _has(text: str, literals: tuple[str, ...]) -> bool:
    return any(lit in text for lit in literals)


def test_every_pivot_alternative_and_referral_match_contains_its_literals():
    seen = {"pivot": 0, "alternative": 0, "referral": 0}
    for text in _texts():
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


@pytest.mark.skipif(fast._RE2_SCAN is None, reason="google-re2 is not installed")
def test_the_re2_scan_reports_exactly_the_literals_that_occur():
    literals = fast._STRONG_LITERAL_SET + fast._HEDGE_WORDS + fast._STRUCTURE_MARKERS
    for text in _texts():
        expected = {i for i, lit in enumerate(literals) if lit in text}
        found = fast._RE2_SCAN(text.encode("utf-8", "surrogatepass")) or []
        assert set(found) == expected, text[:200]
        gate = fast._RE2_GATE(text.encode("utf-8", "surrogatepass")) or []
        assert set(gate) == {i for i in expected if i < fast._HEDGE_FROM}


@pytest.mark.skipif(fast._RE2_AFTER_SCAN is None, reason="google-re2 is not installed")
def test_the_after_cue_scan_reports_exactly_the_literals_that_occur():
    literals = [lit for group in fast._AFTER_GROUPS for lit in group]
    for text in _texts():
        window = text[: fast._AFTER_SCAN_CHARS]
        expected = {i for i, lit in enumerate(literals) if lit in window}
        found = fast._RE2_AFTER_SCAN(window.encode("utf-8", "surrogatepass")) or []
        assert set(found) == expected, window[:200]


def test_results_match_the_reference_without_google_re2(monkeypatch):
    monkeypatch.setattr(fast, "_RE2_SCAN", None)
    monkeypatch.setattr(fast, "_RE2_GATE", None)
    monkeypatch.setattr(fast, "_RE2_AFTER_SCAN", None)
    items = load_corpus(DEV_CORPUS_PATH) + load_corpus(HELD_OUT_PATH)
    pairs = [(item.response, item.prompt) for item in items]
    pairs += [(response, None) for response in _bench_generate(SAMPLE)]
    records = list(generate_records(SAMPLE, seed=5))
    pairs += [(r["response"], _prompt_of(r)) for r in records]
    pairs += [(text, None) for text in _texts()[-SAMPLE:]]
    _assert_same(pairs)
    assert reference.DETECTOR_VERSION == fast.DETECTOR_VERSION
