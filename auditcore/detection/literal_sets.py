"""One compiled scan that tells which groups of literals occur in a text (Hyperscan, else re2).

Only ever a pre-filter: every match is still made by `re`, so the rules stay readable and a
result never depends on the engine; the one thing a set does besides is count the occurrences of
literals, exactly as str.count would. Texts are searched byte by byte in their UTF-8
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


def _hyperscan_set(
    groups: Sequence[Sequence[str]], counted: frozenset[int] = frozenset()
) -> SearchSet | None:
    """One Hyperscan database; each group is one expression, reported once per scan (a counted
    group once per match: each literal ends where no other does, see _check_countable)."""
    try:
        import hyperscan
    except ImportError:
        return None
    database = hyperscan.Database(mode=hyperscan.HS_MODE_BLOCK)
    expressions: list[bytes] = []
    ids: list[int] = []
    flags: list[int] = []
    for group_id, group in enumerate(groups):
        for expression in _alternations([_byte_pattern(literal) for literal in group]):
            expressions.append(expression.encode("ascii"))
            ids.append(group_id)
            flags.append(0 if group_id in counted else hyperscan.HS_FLAG_SINGLEMATCH)
    unique = len(expressions) > len(groups)
    if unique and counted:
        raise ValueError("a set with counted groups must have one expression per group")
    try:
        database.compile(expressions=expressions, ids=ids, elements=len(expressions), flags=flags)
    except hyperscan.error:
        return None
    return _searcher(hyperscan, database, unique=unique)


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
            # Positional arguments: the binding parses keywords at a third of a short scan's cost.
            scan(data, on_match, 0, found, scratch)
        return list(set(found)) if unique and len(found) > 1 else found

    return search


def _re2_set(
    groups: Sequence[Sequence[str]], counted: frozenset[int] = frozenset()
) -> SearchSet | None:
    """One google-re2 set in Latin-1 mode, so that it matches bytes.

    A set reports each entry once, so every literal of a counted group is also an entry of its
    own, after the groups: a counted group found is reported as often as bytes.count finds those of
    its literals that occur (in UTF-8 a literal's bytes occur exactly where the literal does).
    """
    try:
        import re2
    except ImportError:
        return None
    # Entry number → (group, literal) for the counted groups' literals, numbered after the groups.
    literals = [(i, literal) for i in sorted(counted) for literal in groups[i]]
    counted_literals = {
        entry: (i, literal.encode("utf-8"))
        for entry, (i, literal) in enumerate(literals, start=len(groups))
    }
    not_reported = counted | counted_literals.keys()
    try:
        options = re2.Options()
        options.encoding = re2.Options.Encoding.LATIN1
        search_set = re2.Set.SearchSet(options)
        for group in groups:
            # An empty class matches no byte: an empty group is never reported.
            search_set.Add("|".join(map(_byte_pattern, group)) or r"[^\x00-\xff]")
        for _, literal in literals:
            search_set.Add(_byte_pattern(literal))
        search_set.Compile()
    except (re2.error, AttributeError, TypeError, ValueError):
        return None
    # The DFA of a set of literals has at most one state per trie node, far inside RE2's memory
    # budget, so a search cannot fail and be mistaken for "no match". The wrapper's Match adds
    # only a type check at a third of a short search's cost: call the compiled set under it.
    match = getattr(search_set, "_set", search_set).Match

    def search(data: bytes) -> list[int]:
        found = match(data) or []
        if counted.isdisjoint(found):
            return found
        reported = [entry for entry in found if entry not in not_reported]
        for entry in counted_literals.keys() & found:
            group, literal = counted_literals[entry]
            reported += [group] * data.count(literal)
        return reported

    def search_uncounted(data: bytes) -> list[int]:
        return match(data) or []

    return search if counted else search_uncounted


def _check_countable(groups: Sequence[Sequence[str]], counted: frozenset[int]) -> None:
    """A counted group's matches are its literals' str.count summed only if no two of its literal
    occurrences end at the same place or overlap one occurrence of the same literal."""
    for i in counted:
        literals = groups[i]
        if len(set(literals)) < len(literals):
            raise ValueError(f"group {i}: a literal is listed twice")
        for literal in literals:
            if not literal:
                raise ValueError(f"group {i}: an empty literal cannot be counted")
            if any(literal.endswith(other) for other in literals if other != literal):
                raise ValueError(f"group {i}: {literal!r} ends with another literal")
            if any(literal[:k] == literal[-k:] for k in range(1, len(literal))):
                raise ValueError(f"group {i}: occurrences of {literal!r} may overlap")


def literal_search_set(
    groups: Sequence[Sequence[str]], engine: str | None = None, *, counted: Sequence[int] = ()
) -> SearchSet | None:
    """A search set over these groups from `engine`, or the first installed one; None if none.

    A group is reported once when one of its literals occurs; a group in `counted` once per
    occurrence instead, as many times as the str.count of its literals add up to. An empty group
    is never reported: several sets can share one numbering of groups while each leaves some out.
    """
    counted = frozenset(counted)
    _check_countable(groups, counted)
    builders = {"hyperscan": _hyperscan_set, "re2": _re2_set}
    for name in (engine,) if engine else ENGINES:
        search = builders[name](groups, counted)
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
