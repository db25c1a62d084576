"""Create a user with one role: create_user NAME --role reviewer|safety_lead|admin|viewer."""

import getpass
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError, CommandParser

from auditcore import roles
from auditcore.exceptions import ApplicationError
from auditcore.services.users import user_create


class Command(BaseCommand):
    help = "Create a user with a role. The password comes from a prompt or --password-file."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("username")
        parser.add_argument("--role", required=True, choices=roles.ROLES)
        parser.add_argument("--email", default="")
        parser.add_argument(
            "--password-file", type=Path, help="read the password from the first line of a file"
        )

    def handle(self, *args, username: str, role: str, email: str, password_file, **options):
        if password_file is not None:
            try:
                password = password_file.read_text(encoding="utf-8").splitlines()[0]
            except (OSError, IndexError) as exc:
                raise CommandError(f"--password-file: cannot read a password: {exc}") from exc
        else:
            password = getpass.getpass("Password: ")
            if password != getpass.getpass("Password (again): "):
                raise CommandError("the two passwords differ")
        try:
            user = user_create(username=username, role=role, password=password, email=email)
        except ApplicationError as exc:
            raise CommandError(exc.message) from exc
        self.stdout.write(f"created {user.get_username()} ({role})")
