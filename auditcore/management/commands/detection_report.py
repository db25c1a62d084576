"""Print the classifiers' accuracy on the labelled development and held-out corpora: response
labels, and prompt categories under the default policy's keywords."""

from pathlib import Path

from django.core.management.base import BaseCommand, CommandParser

from auditcore.detection.category import CategoryClassifier
from auditcore.detection.default_policy import default_category_specs
from auditcore.detection.report import (
    DEV_CORPUS_PATH,
    HELD_OUT_PATH,
    evaluate_categories,
    evaluate_corpus,
    format_category_agreement,
    format_report,
    load_corpus,
)
from auditcore.detection.response import DETECTOR_VERSION


class Command(BaseCommand):
    help = (
        "3-class and binary accuracy, per-class precision/recall and the confusion matrix; "
        "category agreement and recall per category."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--corpus", type=Path, help="a labelled JSONL file (default: both)")

    def handle(self, *args, corpus: Path | None = None, **options) -> None:
        self.stdout.write(f"detector {DETECTOR_VERSION}\n")
        paths = [corpus] if corpus else [DEV_CORPUS_PATH, HELD_OUT_PATH]
        categories = CategoryClassifier(default_category_specs())
        for path in paths:
            items = load_corpus(path)
            report = evaluate_corpus(items)
            self.stdout.write(format_report(report, title=f"{path.name}") + "\n")
            agreement = evaluate_categories(items, categories)
            title = f"{path.name}: categories (default policy keywords)"
            self.stdout.write(format_category_agreement(agreement, title=title) + "\n")
