"""Create the demo: published default policy, one user per role, synthetic traffic and the demo
model's replay endpoints (idempotent)."""

from django.core.management.base import BaseCommand, CommandParser

from auditcore.services.demo import DEMO_RECORDS, demo_seed


class Command(BaseCommand):
    help = "Seed demo data; running it again changes nothing that exists."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--records", type=int, default=DEMO_RECORDS)

    def handle(self, *args, records: int, **options) -> None:
        result = demo_seed(records=records)
        job = result.job
        self.stdout.write(f"policy: {result.policy} (published)")
        self.stdout.write(
            f"interactions: {job.inserted} new, {job.duplicates} already there, "
            f"{job.rejected} rejected"
        )
        if result.audit_round is not None:
            items = result.audit_round.items.count()
            self.stdout.write(
                f"round: {result.audit_round} ({result.audit_round.status}, {items} items)"
            )
        if result.demo_endpoints is not None:
            for endpoint in (result.demo_endpoints.baseline, result.demo_endpoints.candidate):
                self.stdout.write(
                    f"replay endpoint: {endpoint.name} (model {endpoint.model} at "
                    f"{endpoint.base_url})"
                )
        self.stdout.write("demo logins (username / password):")
        for username, role, password in result.users:
            self.stdout.write(f"  {role:<12} {username:<10} {password}")
