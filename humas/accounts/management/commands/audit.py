from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from humas.accounts.audit import verify
from humas.accounts.models import AuditHead


class Command(BaseCommand):
    help = "Work with the tamper-evident audit log. `humas audit verify` checks the chain."

    def add_arguments(self, parser: CommandParser) -> None:
        sub = parser.add_subparsers(dest="subcommand", required=True)
        sub.add_parser("verify", help="Walk the whole chain and report where it was broken")

    def handle(self, *args: Any, **options: Any) -> None:
        result = verify()
        if result.intact:
            head = AuditHead.objects.filter(id=1).first()
            self.stdout.write(
                self.style.SUCCESS(f"Audit log intact: {result.checked} entries checked.")
            )
            if head is not None:
                # Worth copying somewhere outside the database (a ticket, a signed report):
                # a later run can then show nobody rewrote the chain up to this point.
                self.stdout.write(f"Head: #{head.seq} {head.entry_hash}")
            return
        self.stderr.write(
            self.style.ERROR(
                f"Audit log BROKEN: {len(result.breaks)} problem(s) in {result.checked} entries."
            )
        )
        for problem in result.breaks:
            where = f"entry #{problem.seq}" + (
                f" (row id {problem.entry_id})" if problem.entry_id else ""
            )
            self.stderr.write(f"  {problem.kind:<12} {where}: {problem.detail}")
        raise SystemExit(1)
