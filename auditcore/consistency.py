"""Near-duplicate prompts: normalised text, MinHash over word shingles, LSH banding.

Pure functions over plain strings. Two prompts are "the same" when their normalised text is
equal, and "near the same" when the MinHash estimate of the Jaccard similarity of their word
3-shingles is at least a threshold (0.7 by default), found through LSH bands so only colliding
pairs are compared.
"""

import functools
import hashlib
import re
import unicodedata
from collections import defaultdict
from collections.abc import Hashable, Iterable, Mapping, Sequence

import numpy as np

_MERSENNE = (1 << 31) - 1  # a·h + b stays below 2^63 in uint64
_NON_WORD = re.compile(r"[^\w\s]+")
_SPACE = re.compile(r"\s+")
NUM_PERM = 64
# Texts hashed together: bounds the (NUM_PERM x their shingles) array to a few MB.
_SIGNATURE_BATCH = 256
BANDS = 16  # 16 bands of 4 rows: pairs at Jaccard 0.7 collide with probability ≈ 0.98
THRESHOLD = 0.7
SHINGLE = 3


# In ASCII, NFKC changes nothing and casefold is lower. Over the bytes of ASCII text this table
# lower-cases, turns every character that is neither a word character nor white space into a
# space, and turns the separators \x1c-\x1f, which str.split() counts as white space and
# bytes.split() does not, into spaces too.
_ASCII_FOLD = bytes(
    ord(c.lower())
    if c.isalnum() or c == "_" or (c.isspace() and c not in "\x1c\x1d\x1e\x1f")
    else 32
    for c in map(chr, range(128))
) + bytes(range(128, 256))  # never met: the table is only used on ASCII


def _ascii_normalised(text: str) -> bytes:
    """normalise() of ASCII text, as bytes: no regex, no str method per character (a test checks
    it against the general path)."""
    return b" ".join(text.encode("ascii").translate(_ASCII_FOLD).split())


def normalise(text: str) -> str:
    """NFKC, case-folded, punctuation dropped, whitespace collapsed."""
    if text.isascii():
        return _ascii_normalised(text).decode("ascii")
    text = unicodedata.normalize("NFKC", text).casefold()
    return _SPACE.sub(" ", _NON_WORD.sub(" ", text)).strip()


DIGEST_BYTES = 16


def prompt_digest(prompt: str) -> bytes:
    """Equal for two prompts exactly when their normalised texts are equal ("the same prompt").

    A prompt with no word in it (only punctuation) is keyed by its stripped text instead, so
    such prompts are not all the same as each other.
    """
    key = (
        _ascii_normalised(prompt)
        if prompt.isascii()
        else normalise(prompt).encode("utf-8", "surrogatepass")
    )
    data = b"t" + key if key else b"r" + prompt.strip().encode("utf-8", "surrogatepass")
    return hashlib.blake2b(data, digest_size=DIGEST_BYTES).digest()


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

    def signatures(self, item_sets: Sequence[Iterable[str]]) -> np.ndarray:
        """One signature per set of items, as the rows of an array: the sets are hashed
        together, a batch at a time, instead of one small array operation per set."""
        out = np.full((len(item_sets), self.num_perm), _MERSENNE, dtype=np.uint64)
        for first in range(0, len(item_sets), _SIGNATURE_BATCH):
            hashes: list[int] = []
            starts: list[int] = []
            rows: list[int] = []
            for row, items in enumerate(item_sets[first : first + _SIGNATURE_BATCH], first):
                before = len(hashes)
                hashes.extend(_hash64(s) % _MERSENNE for s in items)
                if len(hashes) > before:  # an empty set keeps the all-_MERSENNE signature
                    starts.append(before)
                    rows.append(row)
            if not hashes:
                continue
            h = np.array(hashes, dtype=np.uint64)
            values = (self.a[:, None] * h[None, :] + self.b[:, None]) % np.uint64(_MERSENNE)
            out[rows] = np.minimum.reduceat(values, starts, axis=1).T
        return out


# A bucket up to this size has its pairs listed, and all such pairs are compared in one go; a
# larger one is compared a block of members at a time, skipping members already linked.
_PAIRWISE_MAX = 32
_BLOCK_ROWS = 64
_PAIR_CHUNK = 65_536


class _Components:
    """Union-find over 0..n-1."""

    def __init__(self, n: int) -> None:
        self.parent = list(range(n))

    def find(self, x: int) -> int:
        parent = self.parent
        while parent[x] != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    def union(self, x: int, y: int) -> None:
        rx, ry = self.find(x), self.find(y)
        if rx != ry:
            self.parent[ry] = rx

    def roots(self, members: np.ndarray) -> np.ndarray:
        """find() of each member, by pointer jumping over the whole array at once."""
        parent = np.asarray(self.parent)
        roots = parent[members]
        while True:
            up = parent[roots]
            if (up == roots).all():
                return roots
            roots = up


@functools.cache
def _pairs_of(k: int) -> tuple[np.ndarray, np.ndarray]:
    return np.triu_indices(k, 1)


def _buckets(signatures: np.ndarray, bands: int) -> tuple[np.ndarray, list[np.ndarray]]:
    """What the LSH bands make collide: the pairs (i, j), i < j, from small buckets, each once,
    and the large buckets' members (ascending)."""
    n, num_perm = signatures.shape
    rows = num_perm // bands
    pair_keys: list[np.ndarray] = [np.empty(0, dtype=np.int64)]
    large: list[np.ndarray] = []
    for band in range(bands):
        buckets: dict[bytes, list[int]] = defaultdict(list)
        part = np.ascontiguousarray(signatures[:, band * rows : (band + 1) * rows])
        for index in range(n):
            buckets[part[index].tobytes()].append(index)
        for members in buckets.values():
            if len(members) > _PAIRWISE_MAX:
                large.append(np.asarray(members, dtype=np.int64))
            elif len(members) > 1:
                i, j = _pairs_of(len(members))
                members_array = np.asarray(members, dtype=np.int64)
                pair_keys.append(members_array[i] * n + members_array[j])
    keys = np.unique(np.concatenate(pair_keys))
    if not n:
        return np.empty((0, 2), dtype=np.int64), large
    return np.stack([keys // n, keys % n], axis=1), large


def _is_similar(signatures: np.ndarray, first: np.ndarray, second: np.ndarray, threshold: float):
    """Row by row, whether the share of equal signature positions (the estimated Jaccard
    similarity) reaches the threshold."""
    equal = (signatures[first] == signatures[second]).sum(axis=1)
    return equal / signatures.shape[1] >= threshold


def _link_pairs(
    signatures: np.ndarray, pairs: np.ndarray, threshold: float, components: _Components
) -> None:
    for start in range(0, len(pairs), _PAIR_CHUNK):
        chunk = pairs[start : start + _PAIR_CHUNK]
        for first, second in chunk[_is_similar(signatures, chunk[:, 0], chunk[:, 1], threshold)]:
            components.union(int(first), int(second))


def _link_bucket(
    signatures: np.ndarray, members: np.ndarray, threshold: float, components: _Components
) -> None:
    """Link the similar members of a large bucket, comparing only members not yet linked."""
    for start in range(0, len(members), _BLOCK_ROWS):
        roots = components.roots(members[start:])
        if (roots == roots[0]).all():
            return  # everything left is already one component
        block = members[start : start + _BLOCK_ROWS]
        later = members[start:]
        i, j = np.nonzero(
            (block[:, None] < later[None, :]) & (roots[: len(block), None] != roots[None, :])
        )
        firsts, seconds = block[i], later[j]
        similar = _is_similar(signatures, firsts, seconds, threshold)
        for first, second in zip(firsts[similar], seconds[similar], strict=True):
            components.union(int(first), int(second))


def near_duplicate_groups(
    texts: Mapping[Hashable, str],
    threshold: float = THRESHOLD,
    bands: int = BANDS,
    hasher: MinHasher | None = None,
) -> list[list[Hashable]]:
    """Groups (size ≥ 2) of keys whose texts are the same or near the same after normalising.

    Equal normalised texts are grouped directly; distinct ones are linked when an LSH band
    collides and the signature similarity is at least `threshold` (union-find, so a group is
    the connected component). Colliding pairs are compared as array operations, not one Python
    call per pair, and members of a large bucket already linked are not compared again.
    """
    hasher = hasher or MinHasher()
    index_of: dict[str, int] = {}
    text_of_key: dict[Hashable, int] = {}
    for key, text in texts.items():
        text_of_key[key] = index_of.setdefault(normalise(text), len(index_of))
    signatures = hasher.signatures([shingles(t) for t in index_of])
    components = _Components(len(index_of))
    pairs, large = _buckets(signatures, bands)
    _link_pairs(signatures, pairs, threshold, components)
    for members in large:
        _link_bucket(signatures, members, threshold, components)
    groups: dict[int, list[Hashable]] = defaultdict(list)
    for key, index in text_of_key.items():
        groups[components.find(index)].append(key)
    return [g for g in groups.values() if len(g) > 1]
