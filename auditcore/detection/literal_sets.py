"""One compiled scan that tells which groups of literals occur in a text (Hyperscan, else re2).

Only ever a pre-filter: every match and count is still made by `re` or `str`, so the rules stay
readable and a result never depends on the engine. Texts are searched byte by byte in their UTF-8
encoding, where a literal occurs exactly where it occurs in the text.
"""

import threading
from collections.abc import Callable, Sequence
from typing import Any

# Which groups (by index) have a member in the bytes given; the order of the list is unspecified.
SearchSet = Callable[[bytes], list[int]]

ENGINES = ("hyperscan", "re2")


def _byte_pattern(literal: str) -> str:
    return "".join(f"\\x{b:02x}" for b in literal.encode("utf-8"))


def _hyperscan_set(groups: Sequence[Sequence[str]]) -> SearchSet | None:
    """One Hyperscan database; each group is one expression, reported once per scan."""
    try:
        import hyperscan
    except ImportError:
        return None
    database = hyperscan.Database(mode=hyperscan.HS_MODE_BLOCK)
    expressions: list[bytes] = []
    ids: list[int] = []
    for group_id, group in enumerate(groups):
        for expression in _alternations([_byte_pattern(literal) for literal in group]):
            expressions.append(expression.encode("ascii"))
            ids.append(group_id)
    try:
        database.compile(
            expressions=expressions,
            ids=ids,
            elements=len(expressions),
            flags=hyperscan.HS_FLAG_SINGLEMATCH,
        )
    except hyperscan.error:
        return None
    return _searcher(hyperscan, database, unique=len(expressions) > len(groups))


# Hyperscan refuses an expression longer than 16,000 characters; a large group (a policy's
# keywords) becomes several expressions under the group's id.
_MAX_EXPRESSION_CHARS = 15_000


def _alternations(patterns: list[str]) -> list[str]:
    """The patterns joined with "|" into as few expressions under the limit as they fit in."""
    expressions: list[str] = []
    current: list[str] = []
    size = 0
    for pattern in patterns:
        if current and size + 1 + len(pattern) > _MAX_EXPRESSION_CHARS:
            expressions.append("|".join(current))
            current, size = [], 0
        current.append(pattern)
        size += len(pattern) + 1
    if current:
        expressions.append("|".join(current))
    return expressions


def _searcher(hyperscan: Any, database: Any, *, unique: bool = False) -> SearchSet:
    """Scan bytes with this database and list the ids it reports (each once, if `unique`: for
    a database where one id stands for several expressions)."""
    # A scratch region serves one scan at a time: each thread gets its own.
    local = threading.local()
    scan = database.scan

    def on_match(group: int, start: int, end: int, flags: int, found: list[int]) -> None:
        found.append(group)

    def search(data: bytes) -> list[int]:
        scratch = getattr(local, "scratch", None)
        if scratch is None:
            scratch = local.scratch = hyperscan.Scratch(database)
        found: list[int] = []
        if data:
            scan(data, match_event_handler=on_match, context=found, scratch=scratch)
        return list(set(found)) if unique and len(found) > 1 else found

    return search


def _re2_set(groups: Sequence[Sequence[str]]) -> SearchSet | None:
    """One google-re2 set in Latin-1 mode, so that it matches bytes."""
    try:
        import re2
    except ImportError:
        return None
    try:
        options = re2.Options()
        options.encoding = re2.Options.Encoding.LATIN1
        search_set = re2.Set.SearchSet(options)
        for group in groups:
            search_set.Add("|".join(_byte_pattern(literal) for literal in group))
        search_set.Compile()
    except (re2.error, AttributeError, TypeError, ValueError):
        return None
    # The DFA of a set of literals has at most one state per trie node, far inside RE2's memory
    # budget, so a search cannot fail and be mistaken for "no match". The wrapper's Match adds
    # only a type check at a third of a short search's cost: call the compiled set under it.
    match = getattr(search_set, "_set", search_set).Match

    def search(data: bytes) -> list[int]:
        return match(data) or []

    return search


def literal_search_set(
    groups: Sequence[Sequence[str]], engine: str | None = None
) -> SearchSet | None:
    """A search set over these groups from `engine`, or the first installed one; None if none."""
    builders = {"hyperscan": _hyperscan_set, "re2": _re2_set}
    for name in (engine,) if engine else ENGINES:
        search = builders[name](groups)
        if search is not None:
            return search
    return None


def pattern_prefilter(patterns: Sequence[str]) -> SearchSet | None:
    """Which of these `re` patterns may match ASCII bytes, from one Hyperscan scan; None if absent.

    Compiled in Hyperscan's prefilter mode, which accepts constructs it cannot run exactly
    (look-arounds) by widening them: it may report a pattern that `re` then does not match, never
    the reverse. Only for ASCII text, where `re`'s \\w, \\b and character classes mean what
    Hyperscan's mean on bytes; the caller runs `re` itself whenever the pattern is reported.
    """
    try:
        import hyperscan
    except ImportError:
        return None
    database = hyperscan.Database(mode=hyperscan.HS_MODE_BLOCK)
    try:
        database.compile(
            expressions=[pattern.encode("ascii") for pattern in patterns],
            ids=list(range(len(patterns))),
            elements=len(patterns),
            flags=hyperscan.HS_FLAG_SINGLEMATCH | hyperscan.HS_FLAG_PREFILTER,
        )
    except (hyperscan.error, UnicodeEncodeError):
        return None
    return _searcher(hyperscan, database)
