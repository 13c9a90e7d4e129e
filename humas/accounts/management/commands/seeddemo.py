from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandParser
from django.db import transaction
from django.utils.translation import gettext as _

from humas.accounts import actions
from humas.accounts.audit import Actor
from humas.accounts.models import Membership, Organisation, Unit, User
from humas.accounts.roles import Role
from humas.accounts.signals import demo_seeded

DEMO_SLUG = "kota-contoh"
DEMO_PASSWORD = "Contoh-Humas-2026"  # noqa: S105 — printed on purpose: demo logins only
UNITS = [
    ("dinkes", "Dinas Kesehatan", "Layanan kesehatan, puskesmas, rumah sakit daerah"),
    ("dukcapil", "Dinas Kependudukan dan Pencatatan Sipil", "KTP-el, KK, akta kelahiran"),
    ("bpbd", "Badan Penanggulangan Bencana Daerah", "Banjir, longsor, kebakaran, gempa"),
    ("dishub", "Dinas Perhubungan", "Lalu lintas, angkutan umum, parkir"),
    ("dpupr", "Dinas Pekerjaan Umum dan Penataan Ruang", "Jalan, drainase, jembatan"),
]
PEOPLE = [
    ("admin@contoh.go.id", "Ratna Admin", Role.ADMIN, None),
    ("approver@contoh.go.id", "Budi Kepala Humas", Role.APPROVER, None),
    ("editor@contoh.go.id", "Sari Editor", Role.EDITOR, None),
    ("responder@contoh.go.id", "Agus Responder", Role.RESPONDER, None),
    ("dinkes@contoh.go.id", "Dewi Dinkes", Role.UNIT_AGENT, "dinkes"),
    ("analyst@contoh.go.id", "Yusuf Analis", Role.ANALYST, None),
]


class Command(BaseCommand):
    help = (
        "Create the demo organisation 'Pemerintah Kota Contoh' with one user per role (idempotent)."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--quiet", action="store_true", help="Do not print the logins")

    @transaction.atomic
    def handle(self, *args: Any, **options: Any) -> None:
        by = Actor.system("humas seeddemo")
        org = Organisation.objects.filter(slug=DEMO_SLUG).first()
        created_org = org is None
        if org is None:
            # The demo is for trying humas on one machine, so 2FA is offered but not forced.
            org = actions.create_organisation(
                name="Pemerintah Kota Contoh",
                slug=DEMO_SLUG,
                require_2fa=False,
                is_demo=True,
                by=by,
            )
        units = {u.code: u for u in Unit.objects.filter(organisation=org)}
        for code, name, description in UNITS:
            if code not in units:
                units[code] = actions.create_unit(
                    org, name=name, code=code, description=description, by=by
                )
        for email, name, role, unit_code in PEOPLE:
            user = User.objects.filter(email=email).first()
            if user is None:
                user = User.objects.create_user(email, DEMO_PASSWORD, full_name=name)
            if not Membership.objects.filter(user=user, organisation=org).exists():
                actions.add_member(
                    org, user, role=role, unit=units[unit_code] if unit_code else None, by=by
                )
        # Apps to the right of accounts (publishing…) add their own demo content.
        demo_seeded.send(sender=type(self), organisation=org, by=by)
        if options["quiet"]:
            return
        state = (
            _("Demo organisation “%(name)s” created.")
            if created_org
            else _("Demo organisation “%(name)s” is ready (already present).")
        )
        self.stdout.write(self.style.SUCCESS(state % {"name": org.name}))
        self.stdout.write(
            _("Open %(url)s/ and sign in with one of these (password %(password)s):")
            % {"url": settings.SITE_URL, "password": DEMO_PASSWORD}
        )
        for email, _name, role, unit_code in PEOPLE:
            extra = f" ({unit_code})" if unit_code else ""
            self.stdout.write(f"  {Role(role).label:<18} {email}{extra}")
