"""``humas cap``: check CAP 1.2 alert files, or show one as JSON."""

from __future__ import annotations

import sys
from datetime import UTC, datetime
from typing import IO, Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils.translation import gettext as _

from humas.crisis import cap

SUBCOMMANDS = ("validate", "show")


class Command(BaseCommand):
    help = (
        "Read CAP 1.2 (Common Alerting Protocol) alerts.\n\n"
        "  humas cap validate FILE...   check each file against the OASIS CAP 1.2 schema\n"
        "  humas cap show FILE          the alert as JSON\n\n"
        "'-' reads standard input. Problems are reported on standard error as\n"
        "'FILE: problem'; the exit status is 1 when any file is not a valid CAP 1.2 alert."
    )
    # Tests pass a file-like object as stdin through call_command.
    stealth_options = ("stdin",)

    def create_parser(self, prog_name: str, subcommand: str, **kwargs: Any) -> CommandParser:
        from argparse import RawDescriptionHelpFormatter

        kwargs.setdefault("formatter_class", RawDescriptionHelpFormatter)
        return super().create_parser(prog_name, subcommand, **kwargs)

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("action", choices=SUBCOMMANDS, help="validate or show")
        parser.add_argument("files", nargs="+", metavar="FILE", help="alert files ('-': stdin)")

    def handle(self, *args: Any, **options: Any) -> None:
        files: list[str] = options["files"]
        stdin = options.get("stdin")
        if options["action"] == "show":
            if len(files) != 1:
                raise CommandError(_("Usage: humas cap show FILE"))
            self.show(files[0], stdin)
        else:
            self.validate(files, stdin)

    def validate(self, files: list[str], stdin: IO[Any] | None) -> None:
        invalid = 0
        now = datetime.now(UTC)
        for name in files:
            try:
                data = read(name, stdin)
                alert = cap.parse(data, strict=True)
            except (OSError, cap.CapError) as exc:
                invalid += 1
                self.report(name, exc)
                continue
            self.stdout.write(_("%(file)s: valid CAP 1.2 alert") % {"file": name})
            if alert.is_expired(now):
                # Still valid CAP; said so that nobody relays it by mistake.
                self.stdout.write(_("%(file)s: note: the alert has expired") % {"file": name})
        if invalid:
            self.stderr.write(
                _("%(bad)d of %(total)d file(s) are not valid CAP 1.2 alerts.")
                % {"bad": invalid, "total": len(files)}
            )
            raise SystemExit(1)

    def show(self, name: str, stdin: IO[Any] | None) -> None:
        try:
            alert = cap.parse(read(name, stdin), strict=True)
        except (OSError, cap.CapError) as exc:
            self.report(name, exc)
            raise SystemExit(1) from None
        self.stdout.write(alert.to_json())

    def report(self, name: str, exc: Exception) -> None:
        if isinstance(exc, cap.CapError):
            problems = exc.problems
        else:
            problems = [_("cannot read the file (%(error)s)") % {"error": exc}]
        for problem in problems:
            self.stderr.write(f"{name}: {problem}")


def read(name: str, stdin: IO[Any] | None) -> bytes:
    """The bytes of a file, or of standard input for '-' (at most one byte past the limit, so a
    huge input is refused without being read whole)."""
    limit = cap.MAX_BYTES + 1
    if name != "-":
        with open(name, "rb") as handle:
            return handle.read(limit)
    stream: Any = stdin if stdin is not None else sys.stdin
    stream = getattr(stream, "buffer", stream)
    data = stream.read(limit)
    return data.encode("utf-8") if isinstance(data, str) else data
