"""How the dashboard's figures read: percentages, flag badges, the overall confusion matrix."""

import math
from collections import Counter

from auditcore.detection.report import evaluate_counts
from auditcore.detection.response import LABELS
from auditcore.models import Label
from auditcore.selectors.estimates import ValidationRow
from auditcore.stats import MIN_RELIABLE_N, RateEstimate


def pct(value: float | None) -> str:
    if value is None or math.isnan(value):
        return "no data"
    return f"{value:.1%}"


# Each flag of an estimate as a small badge after it: a plain label, and a tooltip (also read out
# by screen readers) that explains the term behind it.
FLAG_BADGES = {
    "small_n": (
        "few reviewed",
        "Fewer than {min_n} reviewed items behind this rate (n = {n}): a few more reviews could "
        "move it a lot.",
    ),
    "wide_interval": (
        "wide range",
        "The 95% interval is {width} points wide: the true rate could be anywhere from "
        "{lower} to {upper}.",
    ),
    "wide_relative": (
        "uncertain",
        "The 95% interval ({lower} to {upper}) is wider than the estimate itself: read it as a "
        "rough size, not a precise figure.",
    ),
    "no_df": (
        "spread unknown",
        "Each reviewed item is alone in its sampling group (stratum), so the data cannot show "
        "how much the rate varies between samples (no degrees of freedom, df = {df}); the "
        "interval is a rough bound.",
    ),
}


def flag_badges(est: RateEstimate) -> list[dict]:
    """The estimate's warning flags as badges: short plain text, a tooltip that explains."""
    facts = {
        "n": est.n,
        "df": est.df,
        "min_n": MIN_RELIABLE_N,
        "lower": pct(est.lower),
        "upper": pct(est.upper),
        "width": (
            f"{(est.upper - est.lower) * 100:.0f}"
            if est.upper is not None and est.lower is not None
            else "—"
        ),
    }
    return [
        {"code": code, "label": FLAG_BADGES[code][0], "tip": FLAG_BADGES[code][1].format(**facts)}
        for code in est.flags
        # "Too few reviewed" already stands in place of the percentage and says as much.
        if code in FLAG_BADGES and not (est.too_few and code == "small_n")
    ]


def overall_confusion(rows: list[ValidationRow]) -> dict | None:
    """Every stratum together: what reviewers saw (rows) against what the classifier said
    (columns), with each class's precision and recall; None without observations."""
    counts: Counter[tuple[str, str]] = Counter()
    for v in rows:
        for observed, n in v.confusion.items():
            if observed in LABELS and v.classifier_label in LABELS:
                counts[(observed, v.classifier_label)] += n
    if not counts:
        return None
    report = evaluate_counts(counts)
    names = dict(Label.choices)
    return {
        "n": report.n,
        "accuracy": pct(report.accuracy),
        "labels": [(label, names[label]) for label in report.labels],
        "rows": [
            {
                "label": label,
                "name": names[label],
                "cells": [{"n": n, "match": j == i} for j, n in enumerate(row)],
                "total": m.support,
                "precision": pct(m.precision) if m.predicted else "—",
                "recall": pct(m.recall) if m.support else "—",
                "predicted": m.predicted,
            }
            for i, (label, row, m) in enumerate(
                zip(report.labels, report.confusion, report.per_class, strict=True)
            )
        ],
    }
