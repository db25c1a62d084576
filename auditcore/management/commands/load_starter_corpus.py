"""Load the starter corpus shipped with the project: load_starter_corpus [--name NAME]."""

from django.core.management.base import BaseCommand

from auditcore.services.replay import STARTER_CORPUS_NAME, corpus_starter_load


class Command(BaseCommand):
    help = "Create (or top up) a corpus from the starter must-help prompts and controls."

    def add_arguments(self, parser) -> None:
        parser.add_argument("--name", default=STARTER_CORPUS_NAME, help="corpus name")

    def handle(self, *args, name: str, **options) -> None:
        summary = corpus_starter_load(actor=None, name=name)
        self.stdout.write(
            f"corpus {name}: {summary.added} prompts added, "
            f"{summary.already_present} already present"
        )
