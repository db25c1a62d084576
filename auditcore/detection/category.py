"""Surface category of a prompt (financial, medical, …) from the policy's keywords and examples."""

import math
import re
from collections.abc import Sequence
from dataclasses import dataclass

from auditcore.detection.literal_sets import literal_search_set

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


_GENERAL_RESULT = CategoryResult(GENERAL, 0.0)
# The groups of the literal screen, and the shared words of a text it rules out.
_KEYWORD_GROUP, _WORD_GROUP = 0, 1
_NONE: frozenset[str] = frozenset()


def _content_words(text: str) -> set[str]:
    return {w for w in _WORD.findall(text.lower()) if w not in _STOPWORDS}


_BOUNDARY = re.compile(r"\b")
# Only the first characters of a text are looked at.
SCAN_CHARS = 5000
# Evidence of texts up to this long is remembered, for this many texts at a time.
CACHE_MAX_CHARS = 2000
CACHE_SIZE = 4096


def _common_prefix(words: list[str]) -> str:
    first, last = min(words), max(words)
    n = 0
    while n < len(first) and first[n] == last[n]:
        n += 1
    return first[:n]


def _keyword_alternation(keywords: set[str]) -> str:
    """A regex matching the longest keyword at a position, as a trie: few branches per position."""
    if keywords == {""}:
        return ""
    by_first: dict[str, list[str]] = {}
    for keyword in sorted(k for k in keywords if k):
        by_first.setdefault(keyword[0], []).append(keyword)
    parts = []
    for group in by_first.values():
        common = _common_prefix(group)
        parts.append(re.escape(common) + _keyword_alternation({k[len(common) :] for k in group}))
    # Longer continuations are tried before stopping here, so the longest keyword wins.
    if "" in keywords:
        parts.append("")
    elif len(parts) == 1:
        return parts[0]
    return "(?:" + "|".join(parts) + ")"


def _compile_union(keywords: set[str]) -> re.Pattern[str]:
    # Most positions are rejected by the boundary or the first-character check.
    first = "[" + "".join(sorted({re.escape(k[0]) for k in keywords})) + "]"
    try:
        return re.compile(r"\b(?=" + first + ")" + _keyword_alternation(keywords))
    except (RecursionError, re.error, OverflowError):
        # Deeply nested keyword sets: a flat longest-first alternation means the same.
        longest_first = sorted(keywords, key=len, reverse=True)
        return re.compile(r"\b(?:" + "|".join(re.escape(k) for k in longest_first) + ")")


def _may_match_inside(keyword: str, keywords: set[str], proper_prefixes: set[str]) -> bool:
    """Could some keyword start at a word boundary strictly inside a match of `keyword`?

    That is: the rest of `keyword` from such a boundary is a proper prefix of a keyword (in
    `proper_prefixes`), or a keyword is a prefix of that rest.
    """
    for q in range(1, len(keyword)):
        if not _BOUNDARY.match(keyword, q):
            continue
        rest = keyword[q:]
        if rest in proper_prefixes or any(rest[:n] in keywords for n in range(1, len(rest) + 1)):
            return True
    return False


class CategoryClassifier:
    """Scores a prompt against every category; compiled once per policy version.

    A category's keyword evidence is the number of distinct keywords its own regex finds
    (leftmost, longest first, non-overlapping). One trie regex over every category's keywords
    finds the same matches in one pass: each match is the longest keyword at its position, the
    keywords of a category matching there are prefixes of it, and when no keyword can start
    inside a match no category's scan can see anything the union scan skipped. Texts that hit a
    keyword where that is not so fall back to the per-category regexes.
    """

    def __init__(
        self,
        specs: Sequence[CategorySpec],
        *,
        single_pass: bool = True,
        literal_engine: str | None = "any",
    ) -> None:
        """`single_pass=False` counts keywords with the per-category scans only, and
        `literal_engine=None` runs them without the literal screen (else "hyperscan", "re2" or
        "any" installed): for tests, which check that every way gives the same results, and for
        benchmarks."""
        self._specs = [s for s in specs if s.slug != GENERAL]
        self._keyword_res = [self._compile_keywords(s.keywords) for s in self._specs]
        # Words that appear in a category's examples but in no other category's examples.
        vocabularies = [set().union(*(_content_words(e) for e in s.examples)) for s in self._specs]
        self._example_words = []
        for i, vocabulary in enumerate(vocabularies):
            others = set().union(*(v for j, v in enumerate(vocabularies) if j != i))
            self._example_words.append(frozenset(vocabulary - others))
        # The example-word sets are disjoint (and hold no stopwords): one map word -> category.
        self._example_category = {w: i for i, ws in enumerate(self._example_words) for w in ws}
        self._shared_words = frozenset(self._example_category).intersection
        cleaned = [{k.strip().lower() for k in s.keywords if k.strip()} for s in self._specs]
        union = set().union(*cleaned)
        self._find_keywords = _compile_union(union).findall if union else None
        # For each keyword: the (category, keyword) pairs that the categories' own scans count
        # where it is the longest match, or None when a keyword may start inside it.
        self._keyword_hits: dict[str, tuple[tuple[int, str], ...] | None] = {}
        # The evidence of a text whose only keyword is this one (the common case).
        self._single_hit: dict[str, dict[int, float]] = {}
        proper_prefixes = {k[:n] for k in union for n in range(1, len(k))}
        for keyword in union:
            hits = []
            for i, own in enumerate(cleaned):
                prefixes = [k for k in own if keyword.startswith(k)]
                if prefixes:
                    hits.append((i, max(prefixes, key=len)))
            if _may_match_inside(keyword, union, proper_prefixes):
                self._keyword_hits[keyword] = None
            else:
                self._keyword_hits[keyword] = tuple(hits)
                self._single_hit[keyword] = {
                    i: KEYWORD_WEIGHT * 1 + EXAMPLE_WORD_WEIGHT * 0 for i, _ in hits
                }
        if not single_pass and union:
            # Every keyword a category's own scan finds sends the text to the per-category scans.
            per_category = [r.findall for r in self._keyword_res if r is not None]
            self._find_keywords = lambda low: [k for scan in per_category for k in scan(low)]
            self._keyword_hits = dict.fromkeys(union)
            self._single_hit = {}
        # One scan for the literals of both kinds of evidence: a text holding no keyword (as a
        # substring of its lower-cased head) has no keyword match, one holding no example word has
        # no shared word, so each regex pass runs only when its group was found.
        self._screen = None
        screened = [sorted(union), sorted(self._example_category)]
        if literal_engine is not None and single_pass and all(screened):
            self._screen = literal_search_set(
                screened, None if literal_engine == "any" else literal_engine
            )
        self._thresholds = [
            (HIGH_STAKES_THRESHOLD if s.high_stakes else THRESHOLD, 0.01 if s.high_stakes else 0.0)
            for s in self._specs
        ]
        # Prompts and opening turns repeat (templates, retries); their evidence is kept.
        self._cache: dict[str, dict[int, float] | None] = {}
        # Results are immutable and few distinct ones occur.
        self._results: dict[tuple[int, float], CategoryResult] = {}

    @staticmethod
    def _compile_keywords(keywords: Sequence[str]) -> re.Pattern[str] | None:
        cleaned = sorted({k.strip().lower() for k in keywords if k.strip()}, key=len, reverse=True)
        if not cleaned:
            return None
        # A keyword matches at a word start, so "hack" also covers "hacking" and "hacked".
        return re.compile(r"\b(?:" + "|".join(re.escape(k) for k in cleaned) + ")")

    def _evidence(self, text: str) -> dict[int, float] | None:
        """Evidence per category index, without the categories that have none; None if none do.

        The returned dict may be shared: callers must not change it.
        """
        cache = self._cache
        evidence = cache.get(text, cache)
        if evidence is not cache:
            return evidence
        if len(text) <= SCAN_CHARS:
            # Lower-casing can lengthen non-ASCII text ("İ" becomes two characters).
            low = text.lower()[:SCAN_CHARS]
        else:
            head = text[:SCAN_CHARS]
            # Lower-casing non-ASCII text can change its length or depend on what follows.
            low = head.lower() if head.isascii() else text.lower()[:SCAN_CHARS]
        screen = self._screen
        if screen is None:
            found = self._find_keywords(low) if self._find_keywords is not None else ()
            shared = self._shared_words(_WORD.findall(low))
        else:
            groups = screen(low.encode("utf-8", "surrogatepass"))
            found = self._find_keywords(low) if _KEYWORD_GROUP in groups else ()
            shared = self._shared_words(_WORD.findall(low)) if _WORD_GROUP in groups else _NONE
        if shared or len(found) > 1:
            evidence = self._combine(low, found, shared)
        elif found:
            evidence = self._single_hit.get(found[0]) or self._combine(low, found, shared)
        else:
            evidence = None
        if len(text) <= CACHE_MAX_CHARS:
            if len(cache) >= CACHE_SIZE:
                cache.clear()
            cache[text] = evidence
        return evidence

    def _combine(
        self, low: str, found: list[str], shared: frozenset[str]
    ) -> dict[int, float] | None:
        hits: dict[int, int] = {}
        if found:
            table = self._keyword_hits
            if len(found) == 1:
                pairs = table[found[0]]
            else:
                pairs = set()
                for keyword in set(found):
                    keyword_hits = table[keyword]
                    if keyword_hits is None:
                        pairs = None
                        break
                    pairs.update(keyword_hits)
            if pairs is None:
                hits = self._hits_per_category(low)
            else:
                for i, _ in pairs:
                    hits[i] = hits.get(i, 0) + 1
        if not shared:
            return {
                i: KEYWORD_WEIGHT * n + EXAMPLE_WORD_WEIGHT * 0 for i, n in hits.items()
            } or None
        overlaps: dict[int, int] = {}
        category = self._example_category
        for word in shared:
            i = category[word]
            overlaps[i] = overlaps.get(i, 0) + 1
        return {
            i: KEYWORD_WEIGHT * hits.get(i, 0) + EXAMPLE_WORD_WEIGHT * overlaps.get(i, 0)
            for i in hits.keys() | overlaps.keys()
        }

    def _hits_per_category(self, low: str) -> dict[int, int]:
        """The reference computation: one scan per category (keywords overlap inside matches)."""
        hits = {}
        for i, keyword_re in enumerate(self._keyword_res):
            if keyword_re is not None:
                n = len(set(keyword_re.findall(low)))
                if n:
                    hits[i] = n
        return hits

    def classify(self, prompt: str | None, earlier_turns: Sequence[str] = ()) -> CategoryResult:
        if not self._specs:
            return _GENERAL_RESULT
        totals = self._evidence(prompt or "")
        if earlier_turns:
            totals = dict(totals) if totals else {}
            weight = CONTEXT_WEIGHT
            for turn in reversed(earlier_turns):
                evidence = self._evidence(turn or "")
                if evidence:
                    # Adding weight * 0.0 never changes a total, so absent entries are skipped.
                    for i, value in evidence.items():
                        totals[i] = totals.get(i, 0.0) + weight * value
                weight *= CONTEXT_DECAY
        if not totals:
            return _GENERAL_RESULT
        best_i, best_score = -1, 0.0
        thresholds = self._thresholds
        for i in sorted(totals):
            total = totals[i]
            threshold, bonus = thresholds[i]
            # Ties go to the high-stakes category, which the sample must not miss.
            rank = total + bonus
            if total >= threshold and rank > best_score:
                best_i, best_score = i, rank
        if best_i < 0:
            return _GENERAL_RESULT
        result = self._results.get((best_i, best_score))
        if result is None:
            # Map unbounded evidence to (0, 1): one keyword gives ~0.6, three give ~0.95.
            result = CategoryResult(self._specs[best_i].slug, round(1 - math.exp(-best_score), 3))
            if len(self._results) < CACHE_SIZE:
                self._results[(best_i, best_score)] = result
        return result
