"""Texts shared by the path-equivalence tests of the response and category classifiers."""

import importlib.util
import random
from functools import cache
from pathlib import Path

from auditcore.demo_data import generate_records
from auditcore.detection.report import DEV_CORPUS_PATH, HELD_OUT_PATH, CorpusItem, load_corpus

BENCH_PATH = Path(__file__).resolve().parents[3] / "bench" / "detection.py"
# Large enough to reach every rule of both classifiers; small enough to keep the suite quick.
SAMPLE = 5_000


@cache
def corpus_items() -> tuple[CorpusItem, ...]:
    """The dev corpus and the held-out file."""
    return tuple(load_corpus(DEV_CORPUS_PATH) + load_corpus(HELD_OUT_PATH))


@cache
def bench_responses() -> tuple[str, ...]:
    """SAMPLE responses from the benchmark's generator (mostly answers, some refusals)."""
    spec = importlib.util.spec_from_file_location("bench_detection", BENCH_PATH)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return tuple(module.generate(SAMPLE))


@cache
def demo_records() -> tuple[dict, ...]:
    return tuple(generate_records(SAMPLE, seed=11))


def user_turns(record: dict) -> list[str]:
    return [m["content"] for m in record["messages"] if m.get("role") == "user"]


@cache
def spliced_texts(n: int = SAMPLE // 4, seed: int = 20261128) -> tuple[str, ...]:
    """Corpus sentences spliced together, so cues land at window and slice edges."""
    pieces = [p for i in corpus_items() for p in i.response.replace("\n", ". \n").split(". ") if p]
    rng = random.Random(seed)
    texts = []
    for _ in range(n):
        text = rng.choice([". ", ".\n", "\n\n", " ", ""]).join(
            rng.sample(pieces, rng.randint(1, 14))
        )
        if rng.random() < 0.2:
            text = text.upper() if rng.random() < 0.5 else text.replace("'", "’")
        if rng.random() < 0.2:
            text = " " * rng.randint(0, 420) + text
        if rng.random() < 0.1:
            # Multi-byte characters shift UTF-8 byte offsets away from character offsets.
            text = rng.choice(["ü", "İ", "抱", "🙂", "\u200b"]) * rng.randint(1, 300) + text
        texts.append(text)
    return tuple(texts)
