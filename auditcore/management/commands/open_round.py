"""manage.py open_round --last-week: the weekly routine from the command line (cron, CI)."""

from django.core.management.base import BaseCommand, CommandError

from auditcore import tasks
from auditcore.exceptions import ApplicationError
from auditcore.models import RoundTemplate
from auditcore.services.rounds import round_open_last_week


class Command(BaseCommand):
    help = (
        "Open the audit round over last week (Monday to Sunday) and start its draw. Running it "
        "again in the same week opens nothing new."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--last-week", action="store_true", required=True, help="the ISO week before today"
        )
        parser.add_argument("--budget", type=int, default=None, help="items to sample")
        parser.add_argument("--template", default=None, help="a round template, by name")

    def handle(self, *args, **options):
        template = None
        if options["template"]:
            template = RoundTemplate.objects.filter(name=options["template"]).first()
            if template is None:
                raise CommandError(f"--template: no round template named {options['template']!r}")
        if options["budget"] is not None and options["budget"] < 1:
            raise CommandError("--budget: must be a whole number of items ≥ 1")
        try:
            opened = round_open_last_week(actor=None, template=template, budget=options["budget"])
        except ApplicationError as exc:
            raise CommandError(exc.message) from exc
        tasks.round_opened_enqueue(opened)
        audit_round = opened.audit_round
        period = f"{audit_round.period_start} – {audit_round.period_end}"
        if not opened.created and opened.drawing and audit_round.drawn_at is None:
            self.stdout.write(
                f"{audit_round.name} ({period}) exists; its draw is queued or running."
            )
            return
        if not opened.created and not opened.problem:
            self.stdout.write(f"{audit_round.name} ({period}) is already open; nothing new.")
            return
        if not opened.drawing:
            raise CommandError(f"{audit_round.name} ({period}) is not drawn: {opened.problem}")
        self.stdout.write(
            f"Opened {audit_round.name} ({period}), budget {audit_round.budget}; the draw is "
            "queued for a worker."
        )
