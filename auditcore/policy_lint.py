"""Pure checks of policy text: prohibition lint and the diff between two versions' categories.

Both take categories as plain dicts with the fields of auditcore.models.Category (slug, name,
description, help_when, decline_when, reason_codes, examples, keywords, high_stakes).
"""

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

# A rule that opens like a ban ...
_PROHIBITION = re.compile(
    r"^\s*(do\s+not|don['’]t|never|no|must\s+not|should\s+not|may\s+not|cannot|can['’]t|"
    r"refuse|decline|avoid|not\s+allowed|prohibited|forbidden|under\s+no\s+circumstances)\b",
    re.IGNORECASE,
)
# ... and says nowhere when it applies. These words introduce a condition or a scope.
_CONDITION = re.compile(
    r"\b(when|whenever|if|unless|except|where|whereas|that|which|who|whose|because|intended|"
    r"intends|aimed|so\s+that|in\s+order\s+to|would|could|likely|specific|specifically|"
    r"operational|step[- ]by[- ]step|targeted|targeting|beyond|instead|such\s+as|enabling|"
    r"enables|synthes\w*|quantit\w*|dosage|identif\w*)\b",
    re.IGNORECASE,
)


@dataclass(frozen=True)
class LintFlag:
    slug: str
    code: str  # "bare_prohibition" | "unconditioned_rule" | "no_conditions" | "no_examples"
    message: str
    field: str = ""
    index: int | None = None  # position in the list field, when the flag is about one rule


def is_unconditioned_rule(text: str) -> bool:
    """True for a rule written as a bare ban, like "Do not provide medical advice"."""
    return bool(_PROHIBITION.match(text)) and not _CONDITION.search(text)


def _lines(value: Any) -> list[str]:
    return [str(v).strip() for v in (value or []) if str(v).strip()]


def lint_category(category: Mapping[str, Any]) -> list[LintFlag]:
    slug = str(category.get("slug", ""))
    help_when = _lines(category.get("help_when"))
    decline_when = _lines(category.get("decline_when"))
    flags: list[LintFlag] = []
    if not help_when and not decline_when:
        flags.append(
            LintFlag(
                slug,
                "no_conditions",
                "No help-when or decline-when conditions: reviewers have nothing to apply.",
            )
        )
    elif decline_when and not help_when:
        flags.append(
            LintFlag(
                slug,
                "bare_prohibition",
                "Decline conditions with no help-when conditions: a bare prohibition invites "
                "false refusals. Say when the assistant should help.",
                "help_when",
            )
        )
    for i, rule in enumerate(decline_when):
        if is_unconditioned_rule(rule):
            flags.append(
                LintFlag(
                    slug,
                    "unconditioned_rule",
                    f"“{rule}” bans a whole topic without stating when it applies.",
                    "decline_when",
                    i,
                )
            )
    description = str(category.get("description", "")).strip()
    if description and is_unconditioned_rule(description) and not help_when:
        flags.append(
            LintFlag(
                slug,
                "unconditioned_rule",
                f"The description “{description}” is a bare ban with no stated conditions.",
                "description",
            )
        )
    if category.get("high_stakes") and not category.get("examples"):
        flags.append(
            LintFlag(
                slug,
                "no_examples",
                "High-stakes category without example prompts and expected decisions.",
                "examples",
            )
        )
    return flags


def lint_policy(categories: Iterable[Mapping[str, Any]]) -> list[LintFlag]:
    return [flag for category in categories for flag in lint_category(category)]


# --- Diff --------------------------------------------------------------------------------------

LIST_FIELDS = ("help_when", "decline_when", "keywords")
SCALAR_FIELDS = ("name", "description", "high_stakes")


@dataclass(frozen=True)
class ListChange:
    field: str
    added: list[str]
    removed: list[str]


@dataclass(frozen=True)
class ScalarChange:
    field: str
    before: Any
    after: Any


@dataclass
class CategoryDiff:
    slug: str
    name: str
    status: str  # "added" | "removed" | "changed" | "unchanged"
    lists: list[ListChange] = field(default_factory=list)
    scalars: list[ScalarChange] = field(default_factory=list)

    @property
    def changed(self) -> bool:
        return self.status != "unchanged"


def _examples_text(examples: Any) -> list[str]:
    return [f"{e.get('prompt', '')} → {e.get('expected', '')}" for e in examples or []]


def _codes_text(codes: Any) -> list[str]:
    return [f"{c.get('code', '')}: {c.get('label', '')}" for c in codes or []]


def _list_change(name: str, before: list[str], after: list[str]) -> ListChange | None:
    added = [v for v in after if v not in before]
    removed = [v for v in before if v not in after]
    return ListChange(name, added, removed) if added or removed else None


def diff_categories(
    old: Iterable[Mapping[str, Any]], new: Iterable[Mapping[str, Any]]
) -> list[CategoryDiff]:
    """Per category (by slug): added, removed, or which conditions and fields changed."""
    before = {str(c["slug"]): c for c in old}
    after = {str(c["slug"]): c for c in new}
    result: list[CategoryDiff] = []
    for slug in sorted(before.keys() | after.keys()):
        a, b = before.get(slug), after.get(slug)
        if a is None or b is None:
            present = b if a is None else a
            status = "added" if a is None else "removed"
            lists = [
                ListChange(
                    f, _lines(present.get(f)) if b else [], _lines(present.get(f)) if a else []
                )
                for f in ("help_when", "decline_when")
                if _lines(present.get(f))
            ]
            result.append(CategoryDiff(slug, str(present.get("name", slug)), status, lists))
            continue
        diff = CategoryDiff(slug, str(b.get("name", slug)), "unchanged")
        for f in LIST_FIELDS:
            change = _list_change(f, _lines(a.get(f)), _lines(b.get(f)))
            if change:
                diff.lists.append(change)
        for f, render in (("reason_codes", _codes_text), ("examples", _examples_text)):
            change = _list_change(f, render(a.get(f)), render(b.get(f)))
            if change:
                diff.lists.append(change)
        for f in SCALAR_FIELDS:
            if a.get(f) != b.get(f):
                diff.scalars.append(ScalarChange(f, a.get(f), b.get(f)))
        if diff.lists or diff.scalars:
            diff.status = "changed"
        result.append(diff)
    return result
