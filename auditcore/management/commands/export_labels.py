"""manage.py export_labels: adjudicated labels to CSV, JSON Lines or Parquet."""

import time

from django.core.management.base import BaseCommand, CommandError

from auditcore.exceptions import ApplicationError
from auditcore.models import ExportFormat
from auditcore.services.exports import export_labels_to_path


class Command(BaseCommand):
    help = "Export adjudicated labels with their design weights (recorded in the audit log)."

    def add_arguments(self, parser):
        parser.add_argument("--format", required=True, choices=ExportFormat.values)
        parser.add_argument("--output", required=True, help="file to write")
        parser.add_argument("--round", default=None, help="only this round (by name)")
        parser.add_argument(
            "--include-text",
            action="store_true",
            help="add prompts, earlier turns and responses (PII-redacted as stored)",
        )

    def handle(self, *args, **options):
        started = time.monotonic()
        try:
            job = export_labels_to_path(
                actor=None,
                fmt=options["format"],
                output=options["output"],
                round_name=options["round"],
                include_text=options["include_text"],
            )
        except ApplicationError as exc:
            raise CommandError(exc.message) from exc
        seconds = time.monotonic() - started
        self.stdout.write(
            f"Wrote {job.rows_written} rows to {job.file_path} in {seconds:.1f}s "
            f"(export #{job.pk}, recorded in the audit log)."
        )
