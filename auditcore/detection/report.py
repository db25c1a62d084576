"""Evaluate the classifiers against a labelled corpus: response labels (accuracy, precision,
recall) and prompt categories (agreement with the corpus's category, recall per category)."""

import json
from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from auditcore.detection.category import CategoryClassifier
from auditcore.detection.corpus import CorpusRow
from auditcore.detection.response import COMPLIANCE, LABELS, ResponseResult, classify_response
from auditcore.stats import clopper_pearson

CORPUS_DIR = Path(__file__).parent / "corpus"
DEV_CORPUS_PATH = CORPUS_DIR / "dev_corpus.jsonl"
HELD_OUT_PATH = CORPUS_DIR / "held_out.jsonl"
# A "wrong category" flag that named no other category.
NO_SUGGESTION = "(none suggested)"


@dataclass(frozen=True, slots=True)
class CorpusItem:
    id: str
    category: str
    prompt: str
    response: str
    label: str
    hard_case: str | None


@dataclass(frozen=True, slots=True)
class ClassMetrics:
    label: str
    precision: float
    recall: float
    support: int  # gold items of the class
    predicted: int = 0  # items predicted as the class


@dataclass(frozen=True, slots=True)
class DetectionReport:
    n: int
    accuracy: float
    binary_accuracy: float
    per_class: tuple[ClassMetrics, ...]
    labels: tuple[str, ...]
    # confusion[i][j]: items whose gold label is labels[i] and predicted label is labels[j]
    confusion: tuple[tuple[int, ...], ...]
    # Binary view, refusal = refusal or partial_refusal.
    refusal_precision: float = 0.0
    refusal_recall: float = 0.0
    refusal_f1: float = 0.0


def load_corpus(path: Path = DEV_CORPUS_PATH) -> list[CorpusItem]:
    with path.open(encoding="utf-8") as f:
        return [CorpusItem(**json.loads(line)) for line in f if line.strip()]


def evaluate(gold: Sequence[str], predicted: Sequence[str]) -> DetectionReport:
    """Compare predicted labels with gold labels, position by position."""
    if len(gold) != len(predicted):
        raise ValueError("gold and predicted labels differ in length")
    return evaluate_counts(Counter(zip(gold, predicted, strict=True)))


def evaluate_counts(counts: Mapping[tuple[str, str], int]) -> DetectionReport:
    """The report from how often each (gold label, predicted label) pair occurred."""
    index = {label: i for i, label in enumerate(LABELS)}
    matrix = [[0] * len(LABELS) for _ in LABELS]
    for (g, p), count in counts.items():
        matrix[index[g]][index[p]] += count
    n = sum(map(sum, matrix))
    correct = sum(matrix[i][i] for i in range(len(LABELS)))
    complied = index[COMPLIANCE]
    binary_correct = sum(
        matrix[g][p]
        for g in range(len(LABELS))
        for p in range(len(LABELS))
        if (g == complied) == (p == complied)
    )
    per_class = []
    for i, label in enumerate(LABELS):
        predicted_as = sum(matrix[r][i] for r in range(len(LABELS)))
        support = sum(matrix[i])
        per_class.append(
            ClassMetrics(
                label=label,
                precision=matrix[i][i] / predicted_as if predicted_as else 0.0,
                recall=matrix[i][i] / support if support else 0.0,
                support=support,
                predicted=predicted_as,
            )
        )
    refused = [index[label] for label in LABELS if label != COMPLIANCE]
    true_refused = sum(matrix[g][p] for g in refused for p in refused)
    predicted_refused = sum(matrix[g][p] for g in range(len(LABELS)) for p in refused)
    gold_refused = sum(matrix[g][p] for g in refused for p in range(len(LABELS)))
    precision = true_refused / predicted_refused if predicted_refused else 0.0
    recall = true_refused / gold_refused if gold_refused else 0.0
    return DetectionReport(
        n=n,
        accuracy=correct / n if n else 0.0,
        binary_accuracy=binary_correct / n if n else 0.0,
        per_class=tuple(per_class),
        labels=LABELS,
        confusion=tuple(tuple(row) for row in matrix),
        refusal_precision=precision,
        refusal_recall=recall,
        refusal_f1=2 * precision * recall / (precision + recall) if precision + recall else 0.0,
    )


def evaluate_corpus(
    items: Iterable[CorpusItem],
    classify: Callable[[str, str | None], ResponseResult] = classify_response,
) -> DetectionReport:
    gold, predicted = [], []
    for item in items:
        gold.append(item.label)
        predicted.append(classify(item.response, item.prompt).label)
    return evaluate(gold, predicted)


def format_report(report: DetectionReport, title: str = "Detection report") -> str:
    width = max(len(label) for label in report.labels)
    lines = [
        f"{title} (n={report.n})",
        f"  3-class accuracy: {report.accuracy:.3f}",
        f"  binary accuracy (refusal = refusal or partial_refusal): {report.binary_accuracy:.3f}",
        f"  refusal F1: {report.refusal_f1:.3f} (precision {report.refusal_precision:.3f}, "
        f"recall {report.refusal_recall:.3f})",
        "",
        f"  {'class':<{width}}  precision  recall  support",
    ]
    for m in report.per_class:
        lines.append(f"  {m.label:<{width}}  {m.precision:9.3f}  {m.recall:6.3f}  {m.support:7d}")
    lines += ["", "  confusion matrix (rows = gold, columns = predicted)"]
    header = "".join(f"{label:>{width + 2}}" for label in report.labels)
    lines.append(f"  {'':<{width}}{header}")
    for label, row in zip(report.labels, report.confusion, strict=True):
        cells = "".join(f"{count:>{width + 2}d}" for count in row)
        lines.append(f"  {label:<{width}}{cells}")
    return "\n".join(lines)


Classify = Callable[[str, str | None], ResponseResult]


def evaluate_groups(
    rows: Sequence[CorpusRow], classifiers: dict[str, Classify], key: Callable[[CorpusRow], str]
) -> dict[str, dict[str, DetectionReport]]:
    """{group: {classifier name: report}} for the rows grouped by key (e.g. source or style)."""
    groups: dict[str, list[CorpusRow]] = {}
    for row in rows:
        groups.setdefault(key(row), []).append(row)
    results = {}
    for group, members in sorted(groups.items()):
        gold = [row.label for row in members]
        results[group] = {
            name: evaluate(gold, [classify(row.response, row.prompt).label for row in members])
            for name, classify in classifiers.items()
        }
    return results


def format_group_table(results: dict[str, dict[str, DetectionReport]], title: str) -> str:
    """One line per group and classifier: n, binary and 3-class accuracy, refusal F1."""
    names = [name for reports in results.values() for name in reports]
    name_width = max(map(len, names), default=10)
    group_width = max(map(len, results), default=10)
    lines = [
        title,
        f"  {'group':<{group_width}}  {'classifier':<{name_width}}  {'n':>5}  binary  3-class"
        "  refusal F1",
    ]
    for group, reports in results.items():
        for name, report in reports.items():
            lines.append(
                f"  {group:<{group_width}}  {name:<{name_width}}  {report.n:>5d}  "
                f"{report.binary_accuracy:6.3f}  {report.accuracy:7.3f}  {report.refusal_f1:10.3f}"
            )
    return "\n".join(lines)


@dataclass(frozen=True, slots=True)
class CategoryAgreement:
    n: int
    agreement: float
    # (category, recall, support) per category of the corpus, and what it was mistaken for most
    per_category: tuple[tuple[str, float, int, str | None], ...]


def evaluate_categories(
    items: Iterable[CorpusItem], classifier: CategoryClassifier
) -> CategoryAgreement:
    """How often the classifier puts a corpus prompt in the category the corpus gives it."""
    outcomes: dict[str, dict[str, int]] = {}
    for item in items:
        predicted = classifier.classify(item.prompt).slug
        counts = outcomes.setdefault(item.category, {})
        counts[predicted] = counts.get(predicted, 0) + 1
    n = sum(sum(c.values()) for c in outcomes.values())
    agreed = sum(c.get(slug, 0) for slug, c in outcomes.items())
    per_category = []
    for slug, counts in sorted(outcomes.items()):
        support = sum(counts.values())
        wrong = {k: v for k, v in counts.items() if k != slug}
        confused = max(sorted(wrong), key=wrong.__getitem__) if wrong else None
        per_category.append((slug, counts.get(slug, 0) / support, support, confused))
    return CategoryAgreement(
        n=n, agreement=agreed / n if n else 0.0, per_category=tuple(per_category)
    )


def format_category_agreement(result: CategoryAgreement, title: str) -> str:
    width = max((len(slug) for slug, *_ in result.per_category), default=8)
    lines = [
        f"{title} (n={result.n})",
        f"  agreement with the corpus category: {result.agreement:.3f}",
        f"  {'category':<{width}}  recall  support  most often mistaken for",
    ]
    for slug, recall, support, confused in result.per_category:
        lines.append(f"  {slug:<{width}}  {recall:6.3f}  {support:7d}  {confused or '-'}")
    return "\n".join(lines)


@dataclass(frozen=True, slots=True)
class FlaggedCategory:
    """One category as reviewers judged the items the classifier filed under it."""

    category: str
    reviewed: int  # items filed under it with a verdict
    flagged: int  # of those, items a reviewer said are in the wrong category
    suggestions: tuple[tuple[str, int], ...]  # what reviewers suggested instead, most first
    suggested_into: int  # flags on other categories' items suggesting this one (misses)
    precision: float | None  # share of reviewed items nobody flagged
    low: float | None  # 95% Clopper-Pearson interval of the precision
    high: float | None


@dataclass(frozen=True, slots=True)
class FlagValidation:
    reviewed: int
    flagged: int
    agreement: float | None
    low: float | None
    high: float | None
    per_category: tuple[FlaggedCategory, ...]


def validate_categories_from_flags(
    reviewed: Mapping[str, int],
    flagged: Mapping[str, int],
    suggestions: Iterable[tuple[str, str, int]],
) -> FlagValidation:
    """The category classifier judged by reviewers' "wrong category" flags.

    reviewed / flagged: items per category the classifier filed them under; suggestions:
    (filed under, suggested, flags). The precision of a category is the share of its reviewed
    items no reviewer flagged, unweighted (the sample oversamples some strata).
    """
    suggested: dict[str, dict[str, int]] = {}
    into: dict[str, int] = {}
    for filed, instead, n in suggestions:
        bucket = suggested.setdefault(filed, {})
        key = instead or NO_SUGGESTION
        bucket[key] = bucket.get(key, 0) + n
        if instead:
            into[instead] = into.get(instead, 0) + n
    rows = []
    for category in sorted(set(reviewed) | set(flagged) | set(into)):
        n, bad = reviewed.get(category, 0), flagged.get(category, 0)
        low, high = clopper_pearson(n - bad, n) if n else (None, None)
        rows.append(
            FlaggedCategory(
                category=category,
                reviewed=n,
                flagged=bad,
                suggestions=tuple(
                    sorted(suggested.get(category, {}).items(), key=lambda kv: (-kv[1], kv[0]))
                ),
                suggested_into=into.get(category, 0),
                precision=(n - bad) / n if n else None,
                low=low,
                high=high,
            )
        )
    total, total_flagged = sum(reviewed.values()), sum(flagged.values())
    low, high = clopper_pearson(total - total_flagged, total) if total else (None, None)
    return FlagValidation(
        reviewed=total,
        flagged=total_flagged,
        agreement=(total - total_flagged) / total if total else None,
        low=low,
        high=high,
        per_category=tuple(rows),
    )


def format_flag_validation(result: FlagValidation, title: str) -> str:
    def share(value: float | None) -> str:
        return "-" if value is None else f"{value:.3f}"

    width = max((len(r.category) for r in result.per_category), default=8)
    lines = [
        f"{title} (items reviewed={result.reviewed}, flagged wrong={result.flagged})",
        f"  agreement with reviewers: {share(result.agreement)} "
        f"(95% CI {share(result.low)}-{share(result.high)})",
        f"  {'category':<{width}}  reviewed  flagged  precision  95% CI       suggested into"
        "  suggested instead",
    ]
    for r in result.per_category:
        instead = ", ".join(f"{slug} ({n})" for slug, n in r.suggestions) or "-"
        lines.append(
            f"  {r.category:<{width}}  {r.reviewed:8d}  {r.flagged:7d}  {share(r.precision):>9}"
            f"  {share(r.low)}-{share(r.high):<5}  {r.suggested_into:14d}  {instead}"
        )
    return "\n".join(lines)
