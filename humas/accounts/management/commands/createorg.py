from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from humas.accounts.actions import ActionError, create_organisation
from humas.accounts.audit import Actor
from humas.accounts.models import LanguageChoice, TimeZoneChoice

ZONES = {"WIB": TimeZoneChoice.WIB, "WITA": TimeZoneChoice.WITA, "WIT": TimeZoneChoice.WIT}


class Command(BaseCommand):
    help = "Create an organisation (2FA is required for its members unless --no-2fa)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("name", help="Full name, e.g. 'Pemerintah Provinsi Contoh'")
        parser.add_argument("--slug", default="", help="Short name used in addresses")
        parser.add_argument("--zone", choices=sorted(ZONES), default="WIB")
        parser.add_argument("--language", choices=LanguageChoice.values, default="id")
        parser.add_argument("--no-2fa", action="store_true", help="Do not require 2FA")

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            org = create_organisation(
                name=options["name"],
                slug=options["slug"],
                time_zone=ZONES[options["zone"]],
                default_language=options["language"],
                require_2fa=not options["no_2fa"],
                by=Actor.system("humas createorg"),
            )
        except ActionError as exc:
            raise CommandError(str(exc)) from exc
        self.stdout.write(
            self.style.SUCCESS(f"Created organisation {org.name!r} (slug: {org.slug})")
        )
        self.stdout.write(f"Next: humas createadmin --org {org.slug} --email you@example.go.id")
