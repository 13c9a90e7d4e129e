import getpass
import sys
from typing import Any

from django.contrib.auth import password_validation
from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import transaction

from humas.accounts.actions import ActionError, add_member
from humas.accounts.audit import Actor
from humas.accounts.models import Organisation, User
from humas.accounts.roles import Role


class Command(BaseCommand):
    help = "Create (or promote) an administrator of an organisation."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--org", required=True, help="The organisation's short name (slug)")
        parser.add_argument("--email", required=True)
        parser.add_argument("--name", default="", help="Full name")
        parser.add_argument(
            "--password-stdin",
            action="store_true",
            help="Read the password from standard input instead of prompting",
        )

    def _password(self, options: dict[str, Any], user: User) -> str:
        if options["password_stdin"]:
            password = sys.stdin.readline().rstrip("\n")
        else:
            password = getpass.getpass("Password: ")
            if password != getpass.getpass("Password (again): "):
                raise CommandError("The two passwords differ.")
        try:
            password_validation.validate_password(password, user)
        except ValidationError as exc:
            raise CommandError("Password refused: " + " ".join(exc.messages)) from exc
        return password

    def handle(self, *args: Any, **options: Any) -> None:
        org = Organisation.objects.filter(slug=options["org"]).first()
        if org is None:
            raise CommandError(f"No organisation with the short name {options['org']!r}.")
        email = options["email"].strip().lower()
        user = User.objects.filter(email__iexact=email).first()
        with transaction.atomic():
            if user is None:
                probe = User(email=email, full_name=options["name"])
                user = User.objects.create_user(
                    email, self._password(options, probe), full_name=options["name"]
                )
                created = True
            else:
                created = False
            try:
                add_member(org, user, role=Role.ADMIN, by=Actor.system("humas createadmin"))
            except ActionError as exc:
                raise CommandError(str(exc)) from exc
        verb = "Created" if created else "Promoted"
        self.stdout.write(self.style.SUCCESS(f"{verb} {email} as administrator of {org.name}."))
        if org.require_2fa:
            self.stdout.write(
                "Two-factor authentication is required: it is set up at first sign-in."
            )
