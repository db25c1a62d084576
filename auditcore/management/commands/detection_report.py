"""Print the response classifier's accuracy on the labelled development and held-out corpora."""

from pathlib import Path

from django.core.management.base import BaseCommand, CommandParser

from auditcore.detection.report import (
    DEV_CORPUS_PATH,
    HELD_OUT_PATH,
    evaluate_corpus,
    format_report,
    load_corpus,
)
from auditcore.detection.response import DETECTOR_VERSION


class Command(BaseCommand):
    help = "3-class and binary accuracy, per-class precision/recall and the confusion matrix."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--corpus", type=Path, help="a labelled JSONL file (default: both)")

    def handle(self, *args, corpus: Path | None = None, **options) -> None:
        self.stdout.write(f"detector {DETECTOR_VERSION}\n")
        paths = [corpus] if corpus else [DEV_CORPUS_PATH, HELD_OUT_PATH]
        for path in paths:
            report = evaluate_corpus(load_corpus(path))
            self.stdout.write(format_report(report, title=f"{path.name}") + "\n")
