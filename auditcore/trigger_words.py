"""Trigger words: terms over-represented in confirmed false refusals, from plain data (no Django).

The weighted log-odds ratio with an informative Dirichlet prior of Monroe, Colaresi and Quinn
(2008, "Fightin' Words", section 3.5). Two groups of prompts of one category, both judged
"should help": those the model refused (confirmed false refusals) and those it helped. A term
(a word or a two-word phrase, stop words out) is counted once per prompt that contains it, so a
prompt repeating a word does not outweigh others. For group i and term w:

    δ_w = log((y_w^i + α_w) / (n^i + α_0 − y_w^i − α_w))
        − log((y_w^j + α_w) / (n^j + α_0 − y_w^j − α_w))
    σ²(δ_w) ≈ 1 / (y_w^i + α_w) + 1 / (y_w^j + α_w),   z_w = δ_w / σ(δ_w)

with y_w^i the term's count in group i, n^i the group's total count, and the prior α_w the
term's count in both groups together (α_0 = n^i + n^j): the category's own traffic is the
background, which shrinks rare terms hard toward no difference.

Design weights: each prompt counts with its weight d (after the nonresponse adjustment), so a
group's term shares are those of the population. The variance above treats counts as counts of
prompts, so each group's weights are scaled to sum to its Kish effective size (Σd)² / Σd²: equal
weights keep the raw counts, unequal ones count for fewer prompts. The population size never
inflates a z-score.

A term is shown only when at least MIN_COUNT refused prompts contain it and z ≥ Z_MIN.
"""

import itertools
import math
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

MIN_COUNT = 5
Z_MIN = 1.96
EXAMPLES_PER_TERM = 3
# Redaction placeholders ([EMAIL], [PHONE] ...) are not words of the prompt.
_PLACEHOLDER = re.compile(r"\[[A-Z_]+\]")
_WORD = re.compile(r"[^\W\d_]+(?:['’][^\W\d_]+)?")
_STOP_WORDS_TEXT = """
    a about above after again against all am an and any are as at be because been before being
    below between both but by can could did do does doing down during each few for from further
    had has have having he her here hers herself him himself his how i if in into is it its
    itself just let me more most my myself no nor not now of off on once only or other our ours
    ourselves out over own same she should so some such than that the their theirs them
    themselves then there these they this those through to too under until up very was we were
    what when where which while who whom why will with would you your yours yourself yourselves
    i'm i've i'd i'll it's don't can't won't isn't aren't doesn't didn't what's how's there's
    please thanks thank hi hello hey also get got may might must shall us one two via
"""
STOP_WORDS = frozenset(_STOP_WORDS_TEXT.split())


@dataclass(frozen=True)
class Prompt:
    """One judged "should help" prompt: its text, its design weight and what the model did."""

    text: str
    weight: float
    refused: bool
    ref: int = 0  # what an example link points at (an interaction id)


@dataclass(frozen=True)
class TermScore:
    term: str
    delta: float  # weighted log-odds ratio, refused against helped
    z: float
    refused_prompts: int  # refused prompts that contain the term (raw count)
    helped_prompts: int
    refused_count: float  # design-weighted count on the Kish-effective scale (what δ uses)
    helped_count: float
    examples: tuple[int, ...]  # refs of refused prompts containing it, heaviest first

    @property
    def is_phrase(self) -> bool:
        return " " in self.term


def words(text: str) -> list[str]:
    """Lower-cased words of a prompt without stop words, placeholders, digits or single letters."""
    text = _PLACEHOLDER.sub(" ", text)
    out = []
    for match in _WORD.finditer(text.lower()):
        word = match.group().replace("’", "'")
        if len(word) > 1 and word not in STOP_WORDS:
            out.append(word)
    return out


def terms(text: str) -> set[str]:
    """The words of a prompt and its two-word phrases (adjacent once stop words are out)."""
    ws = words(text)
    return set(ws) | {f"{a} {b}" for a, b in itertools.pairwise(ws)}


def kish_scaled(weights: Sequence[float]) -> list[float]:
    """Weights scaled to sum to the Kish effective size (Σd)² / Σd² (equal weights: all 1)."""
    total = sum(weights)
    squares = sum(w * w for w in weights)
    if total <= 0 or squares <= 0:
        return [0.0 for _ in weights]
    factor = total / squares  # (Σd)²/Σd² divided by Σd
    return [w * factor for w in weights]


def log_odds(refused: dict[str, float], helped: dict[str, float]) -> dict[str, tuple[float, float]]:
    """{term: (δ, z)} from two groups' term counts, the prior being both groups' counts."""
    n_i, n_j = sum(refused.values()), sum(helped.values())
    alpha_0 = n_i + n_j
    out = {}
    for term in set(refused) | set(helped):
        y_i, y_j = refused.get(term, 0.0), helped.get(term, 0.0)
        alpha = y_i + y_j
        if alpha <= 0:
            continue
        delta = math.log((y_i + alpha) / (n_i + alpha_0 - y_i - alpha)) - math.log(
            (y_j + alpha) / (n_j + alpha_0 - y_j - alpha)
        )
        variance = 1.0 / (y_i + alpha) + 1.0 / (y_j + alpha)
        out[term] = (delta, delta / math.sqrt(variance))
    return out


def score_terms(prompts: Iterable[Prompt]) -> list[TermScore]:
    """Every term with its δ and z, highest z first (words before phrases on a tie)."""
    prompts = [p for p in prompts if p.weight > 0]
    groups = {True: [p for p in prompts if p.refused], False: [p for p in prompts if not p.refused]}
    counts: dict[bool, dict[str, float]] = {True: {}, False: {}}
    raw: dict[bool, dict[str, int]] = {True: {}, False: {}}
    examples: dict[str, list[tuple[float, int]]] = {}
    for refused, members in groups.items():
        scaled = kish_scaled([p.weight for p in members])
        for p, w in zip(members, scaled, strict=True):
            for term in terms(p.text):
                counts[refused][term] = counts[refused].get(term, 0.0) + w
                raw[refused][term] = raw[refused].get(term, 0) + 1
                if refused:
                    examples.setdefault(term, []).append((-p.weight, p.ref))
    scores = [
        TermScore(
            term=term,
            delta=delta,
            z=z,
            refused_prompts=raw[True].get(term, 0),
            helped_prompts=raw[False].get(term, 0),
            refused_count=counts[True].get(term, 0.0),
            helped_count=counts[False].get(term, 0.0),
            examples=tuple(ref for _, ref in sorted(examples.get(term, []))[:EXAMPLES_PER_TERM]),
        )
        for term, (delta, z) in log_odds(counts[True], counts[False]).items()
    ]
    scores.sort(key=lambda s: (-s.z, s.is_phrase, s.term))
    return scores


def trigger_terms(
    prompts: Iterable[Prompt], min_count: int = MIN_COUNT, z_min: float = Z_MIN
) -> list[TermScore]:
    """The terms shown: in at least min_count refused prompts and over-represented (z ≥ z_min)."""
    return [s for s in score_terms(prompts) if s.refused_prompts >= min_count and s.z >= z_min]
