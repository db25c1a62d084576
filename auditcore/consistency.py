"""Near-duplicate prompts: normalised text, MinHash over word shingles, LSH banding.

Pure functions over plain strings. Two prompts are "the same" when their normalised text is
equal, and "near the same" when the MinHash estimate of the Jaccard similarity of their word
3-shingles is at least a threshold (0.7 by default), found through LSH bands so only colliding
pairs are compared.
"""

import hashlib
import re
import unicodedata
from collections import defaultdict
from collections.abc import Hashable, Iterable, Mapping

import numpy as np

_MERSENNE = (1 << 31) - 1  # a·h + b stays below 2^63 in uint64
_NON_WORD = re.compile(r"[^\w\s]+")
_SPACE = re.compile(r"\s+")
NUM_PERM = 64
BANDS = 16  # 16 bands of 4 rows: pairs at Jaccard 0.7 collide with probability ≈ 0.98
THRESHOLD = 0.7
SHINGLE = 3


def normalise(text: str) -> str:
    """NFKC, case-folded, punctuation dropped, whitespace collapsed."""
    text = unicodedata.normalize("NFKC", text).casefold()
    return _SPACE.sub(" ", _NON_WORD.sub(" ", text)).strip()


def shingles(normalised: str, k: int = SHINGLE) -> set[str]:
    words = normalised.split()
    if len(words) <= k:
        return {" ".join(words)}
    return {" ".join(words[i : i + k]) for i in range(len(words) - k + 1)}


def _hash64(value: str) -> int:
    return int.from_bytes(hashlib.blake2b(value.encode(), digest_size=8).digest(), "little")


class MinHasher:
    """Signatures from NUM_PERM universal hashes (a·h + b) mod (2^31 − 1), vectorised."""

    def __init__(self, num_perm: int = NUM_PERM, seed: int = 7) -> None:
        rng = np.random.default_rng(seed)
        self.a = rng.integers(1, _MERSENNE, num_perm, dtype=np.uint64)
        self.b = rng.integers(0, _MERSENNE, num_perm, dtype=np.uint64)
        self.num_perm = num_perm

    def signature(self, items: Iterable[str]) -> np.ndarray:
        hashes = np.array([_hash64(s) % _MERSENNE for s in items], dtype=np.uint64)
        if not len(hashes):
            return np.full(self.num_perm, _MERSENNE, dtype=np.uint64)
        values = (self.a[:, None] * hashes[None, :] + self.b[:, None]) % np.uint64(_MERSENNE)
        return values.min(axis=1)


def similarity(a: np.ndarray, b: np.ndarray) -> float:
    """Estimated Jaccard similarity: the share of equal signature positions."""
    return float(np.mean(a == b))


def near_duplicate_groups(
    texts: Mapping[Hashable, str],
    threshold: float = THRESHOLD,
    bands: int = BANDS,
    hasher: MinHasher | None = None,
) -> list[list[Hashable]]:
    """Groups (size ≥ 2) of keys whose texts are the same or near the same after normalising.

    Equal normalised texts are grouped directly; distinct ones are linked when an LSH band
    collides and the signature similarity is at least `threshold` (union-find, so a group is
    the connected component).
    """
    hasher = hasher or MinHasher()
    rows = hasher.num_perm // bands
    parent: dict[Hashable, Hashable] = {}

    def find(x: Hashable) -> Hashable:
        while parent[x] != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    def union(x: Hashable, y: Hashable) -> None:
        rx, ry = find(x), find(y)
        if rx != ry:
            parent[ry] = rx

    by_text: dict[str, list[Hashable]] = defaultdict(list)
    for key, text in texts.items():
        parent[key] = key
        by_text[normalise(text)].append(key)
    for keys in by_text.values():
        for other in keys[1:]:
            union(keys[0], other)
    signatures = {t: hasher.signature(shingles(t)) for t in by_text}
    buckets: dict[tuple, list[str]] = defaultdict(list)
    for text, sig in signatures.items():
        for band in range(bands):
            buckets[(band, sig[band * rows : (band + 1) * rows].tobytes())].append(text)
    checked: set[tuple[str, str]] = set()
    for members in buckets.values():
        for i, first in enumerate(members):
            for second in members[i + 1 :]:
                pair = (first, second) if first < second else (second, first)
                if pair in checked:
                    continue
                checked.add(pair)
                if similarity(signatures[first], signatures[second]) >= threshold:
                    union(by_text[first][0], by_text[second][0])
    groups: dict[Hashable, list[Hashable]] = defaultdict(list)
    for key in texts:
        groups[find(key)].append(key)
    return [g for g in groups.values() if len(g) > 1]
