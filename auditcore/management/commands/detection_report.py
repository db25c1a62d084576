"""Print the classifiers' accuracy on the labelled corpora: the original development and held-out
files, then every source and style of the corpus split, next to the refusal-prefix baseline; and
prompt categories under the default policy's keywords."""

from pathlib import Path

from django.core.management.base import BaseCommand, CommandParser

from auditcore.detection.baseline import classify_by_prefix
from auditcore.detection.category import CategoryClassifier
from auditcore.detection.corpus import (
    DEV,
    HELD_OUT,
    by_split,
    load_own_rows,
    load_public_rows,
)
from auditcore.detection.default_policy import default_category_specs
from auditcore.detection.report import (
    DEV_CORPUS_PATH,
    HELD_OUT_PATH,
    evaluate,
    evaluate_categories,
    evaluate_corpus,
    evaluate_groups,
    format_category_agreement,
    format_flag_validation,
    format_group_table,
    format_report,
    load_corpus,
)
from auditcore.detection.response import DETECTOR_VERSION, classify_response
from auditcore.selectors.review import category_flag_validation


class Command(BaseCommand):
    help = (
        "3-class and binary accuracy, refusal F1, per-class precision/recall and the confusion "
        "matrix, per source and per style against the prefix baseline; category agreement."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--corpus", type=Path, help="a labelled JSONL file (default: both)")
        parser.add_argument(
            "--split", choices=(DEV, HELD_OUT), default=HELD_OUT, help="corpus split to report"
        )
        parser.add_argument(
            "--snapshots",
            type=Path,
            help="folder of local snapshots of the public sources (owner+name/repo git dirs); "
            "without it only the rows written here are reported",
        )
        parser.add_argument(
            "--reviewer-flags",
            action="store_true",
            help="instead, validate the category classifier against reviewers' "
            '"wrong category" flags in the database',
        )

    def handle(self, *args, corpus: Path | None = None, **options) -> None:
        if options["reviewer_flags"]:
            title = "category classifier against reviewers' wrong-category flags"
            self.stdout.write(format_flag_validation(category_flag_validation(), title) + "\n")
            return
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
        if corpus is None:
            self._report_split(options["split"], options["snapshots"])

    def _report_split(self, split: str, snapshots: Path | None) -> None:
        rows = load_own_rows()
        if snapshots is None:
            self.stdout.write("public sources: not read (give --snapshots to include them)\n")
        else:
            public, missing = load_public_rows(snapshots)
            rows += public
            for repo in sorted(missing):
                self.stdout.write(f"public source {repo}: no snapshot under {snapshots}\n")
        rows = by_split(rows, split)
        classifiers = {"prefix list": classify_by_prefix, "fast tier": classify_response}
        for key, name in ((lambda r: r.source, "source"), (lambda r: r.style, "style")):
            table = evaluate_groups(rows, classifiers, key)
            self.stdout.write(format_group_table(table, f"{split} split by {name}") + "\n")
        report = evaluate(
            [r.label for r in rows], [classify_response(r.response, r.prompt).label for r in rows]
        )
        self.stdout.write(
            format_report(report, title=f"{split} split, all sources, fast tier") + "\n"
        )
