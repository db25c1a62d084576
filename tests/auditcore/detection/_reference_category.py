"""Frozen copy of auditcore/detection/category.py before the speed-up; the equivalence oracle."""

import math
import re
from collections.abc import Sequence
from dataclasses import dataclass

GENERAL = "general"

# Earlier turns set the context ("I'm debugging my own server") but count for less than the
# prompt itself; the most recent earlier turn counts most.
CONTEXT_WEIGHT = 0.6
CONTEXT_DECAY = 0.7
KEYWORD_WEIGHT = 1.0
EXAMPLE_WORD_WEIGHT = 0.25
# Evidence needed before leaving "general"; high-stakes categories need less (recall first).
THRESHOLD = 0.9
HIGH_STAKES_THRESHOLD = 0.6

_WORD = re.compile(r"[a-z][a-z0-9'-]{3,}")
_STOPWORDS = frozenset(
    (
        "about",
        "above",
        "after",
        "again",
        "also",
        "because",
        "been",
        "before",
        "being",
        "between",
        "could",
        "does",
        "doing",
        "down",
        "each",
        "from",
        "have",
        "having",
        "here",
        "into",
        "just",
        "more",
        "most",
        "much",
        "must",
        "only",
        "other",
        "over",
        "same",
        "should",
        "some",
        "such",
        "than",
        "that",
        "their",
        "them",
        "then",
        "there",
        "these",
        "they",
        "this",
        "those",
        "through",
        "under",
        "until",
        "very",
        "want",
        "what",
        "when",
        "where",
        "which",
        "while",
        "with",
        "would",
        "your",
        "yours",
        "please",
        "tell",
        "know",
        "need",
        "help",
        "like",
        "make",
        "give",
    )
)  # fmt: skip


@dataclass(frozen=True, slots=True)
class CategorySpec:
    slug: str
    name: str
    keywords: tuple[str, ...] = ()
    examples: tuple[str, ...] = ()
    high_stakes: bool = False


@dataclass(frozen=True, slots=True)
class CategoryResult:
    slug: str
    score: float


def _content_words(text: str) -> set[str]:
    return {w for w in _WORD.findall(text.lower()) if w not in _STOPWORDS}


class CategoryClassifier:
    """Scores a prompt against every category; compiled once per policy version."""

    def __init__(self, specs: Sequence[CategorySpec]) -> None:
        self._specs = [s for s in specs if s.slug != GENERAL]
        self._keyword_res = [self._compile_keywords(s.keywords) for s in self._specs]
        # Words that appear in a category's examples but in no other category's examples.
        vocabularies = [set().union(*(_content_words(e) for e in s.examples)) for s in self._specs]
        self._example_words = []
        for i, vocabulary in enumerate(vocabularies):
            others = set().union(*(v for j, v in enumerate(vocabularies) if j != i))
            self._example_words.append(frozenset(vocabulary - others))

    @staticmethod
    def _compile_keywords(keywords: Sequence[str]) -> re.Pattern[str] | None:
        cleaned = sorted({k.strip().lower() for k in keywords if k.strip()}, key=len, reverse=True)
        if not cleaned:
            return None
        # A keyword matches at a word start, so "hack" also covers "hacking" and "hacked".
        return re.compile(r"\b(?:" + "|".join(re.escape(k) for k in cleaned) + ")")

    def _evidence(self, text: str) -> list[float]:
        low = text.lower()[:5000]
        words = _content_words(low)
        scores = []
        for keyword_re, example_words in zip(self._keyword_res, self._example_words, strict=True):
            hits = len(set(keyword_re.findall(low))) if keyword_re else 0
            overlap = len(words & example_words)
            scores.append(KEYWORD_WEIGHT * hits + EXAMPLE_WORD_WEIGHT * overlap)
        return scores

    def classify(self, prompt: str | None, earlier_turns: Sequence[str] = ()) -> CategoryResult:
        if not self._specs:
            return CategoryResult(GENERAL, 0.0)
        totals = self._evidence(prompt or "")
        weight = CONTEXT_WEIGHT
        for turn in reversed(earlier_turns):
            for i, value in enumerate(self._evidence(turn or "")):
                totals[i] += weight * value
            weight *= CONTEXT_DECAY
        best_i, best_score = -1, 0.0
        for i, (spec, total) in enumerate(zip(self._specs, totals, strict=True)):
            threshold = HIGH_STAKES_THRESHOLD if spec.high_stakes else THRESHOLD
            # Ties go to the high-stakes category, which the sample must not miss.
            rank = total + (0.01 if spec.high_stakes else 0.0)
            if total >= threshold and rank > best_score:
                best_i, best_score = i, rank
        if best_i < 0:
            return CategoryResult(GENERAL, 0.0)
        # Map unbounded evidence to (0, 1): one keyword gives ~0.6, three give ~0.95.
        return CategoryResult(self._specs[best_i].slug, round(1 - math.exp(-best_score), 3))
