"""The sped-up classify_response must return exactly what the frozen reference returns."""

import importlib.util
import random
from pathlib import Path

import pytest

from auditcore.demo_data import generate_records
from auditcore.detection import response as fast
from auditcore.detection.report import DEV_CORPUS_PATH, HELD_OUT_PATH, load_corpus

from . import _reference_response as reference

BENCH_PATH = Path(__file__).resolve().parents[3] / "bench" / "detection.py"
SAMPLE = 20_000


def _bench_generate(n: int) -> list[str]:
    spec = importlib.util.spec_from_file_location("bench_detection", BENCH_PATH)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.generate(n)


def _as_tuple(result) -> tuple:
    return (
        result.label,
        result.score,
        result.cues,
        result.language_supported,
        result.detector_version,
    )


def _assert_same(pairs: list[tuple[str | None, str | None]]) -> None:
    mismatches = []
    for response, prompt in pairs:
        expected = _as_tuple(reference.classify_response(response, prompt))
        actual = _as_tuple(fast.classify_response(response, prompt))
        if expected != actual:
            mismatches.append((response, prompt, expected, actual))
    assert not mismatches, f"{len(mismatches)} of {len(pairs)} differ, first: {mismatches[0]}"


def _prompt_of(record: dict) -> str | None:
    users = [m["content"] for m in record["messages"] if m.get("role") == "user"]
    return users[-1] if users else None


def test_the_speed_up_keeps_the_detector_version_and_its_invariants():
    assert fast.DETECTOR_VERSION == reference.DETECTOR_VERSION
    # The rewritten _STRONG factors out the leading \b and guards on the first letter.
    assert all(p.startswith(r"\b") for p in fast._STRONG_PATTERNS)
    assert fast._STRONG_PATTERNS == reference._STRONG_PATTERNS
    # The hedge-count shortcut relies on every hedge anchor also being a hedge word.
    assert set(fast._HEDGE_ANCHORS) <= set(fast._HEDGE_WORDS)
    assert set(fast._RARE_ANCHORS) | set(fast._COMMON_ANCHORS) == set(fast._STRONG_ANCHORS)


@pytest.mark.parametrize("path", [DEV_CORPUS_PATH, HELD_OUT_PATH], ids=["dev", "held_out"])
def test_labels_and_scores_match_the_reference_on_the_corpora(path):
    items = load_corpus(path)
    _assert_same([(item.response, item.prompt) for item in items])
    _assert_same([(item.response, None) for item in items])


def test_labels_and_scores_match_the_reference_on_the_benchmark_generator():
    _assert_same([(response, None) for response in _bench_generate(SAMPLE)])


def test_labels_and_scores_match_the_reference_on_demo_records():
    records = list(generate_records(SAMPLE, seed=11))
    _assert_same([(r["response"], _prompt_of(r)) for r in records])
    _assert_same([(r["served_response"], None) for r in records if r["served_response"]])


def test_labels_and_scores_match_the_reference_on_shuffled_corpus_fragments():
    """Splice corpus sentences so cues land at window edges, in long texts and in odd cases."""
    items = load_corpus(DEV_CORPUS_PATH) + load_corpus(HELD_OUT_PATH)
    pieces = [p for item in items for p in item.response.replace("\n", ". \n").split(". ") if p]
    rng = random.Random(20261128)
    pairs: list[tuple[str | None, str | None]] = [(None, None), ("", None), (b"I can't", None)]
    for _ in range(SAMPLE // 4):
        parts = rng.sample(pieces, rng.randint(1, 14))
        text = rng.choice([". ", ".\n", "\n\n", " "]).join(parts)
        if rng.random() < 0.2:
            text = text.upper() if rng.random() < 0.5 else text.replace("'", "’")
        if rng.random() < 0.2:
            text = " " * rng.randint(0, 420) + text
        pairs.append((text, rng.choice(items).prompt if rng.random() < 0.5 else None))
    _assert_same(pairs)
