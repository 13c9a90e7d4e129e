"""``humas triage``: triage messages from a file, score the engine, or retrain it."""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils.translation import gettext as _

from humas.accounts.actions import ActionError
from humas.accounts.audit import Actor
from humas.triage import classify_many, training

if TYPE_CHECKING:
    from humas.accounts.models import Organisation

BATCH = 1000
FORMATS = ("text", "jsonl", "tsv")
ORG_SUBCOMMANDS = ("retrain", "versions", "rollback")


class Command(BaseCommand):
    help = (
        "Understand citizen messages: language, sentiment, category, urgency, abuse, personal "
        "data and suspicious links.\n\n"
        "  humas triage [FILE|-] [--format text|jsonl|tsv]   one JSON object per message\n"
        "  humas triage evaluate FILE.jsonl                  accuracy and macro-F1 per field\n"
        "  humas triage train [--smsa DIR] [--seed FILE]     retrain the shipped models\n"
        "  humas triage retrain --org SLUG                   train the organisation's own model\n"
        "                                                    from its operators' corrections\n"
        "  humas triage versions --org SLUG                  list its model versions\n"
        "  humas triage rollback --org SLUG [--to N]         use version N again (default: the\n"
        "                                                    shipped model)\n\n"
        "The first argument is a subcommand when it is one of the above, otherwise the "
        "file to read ('-' or nothing: standard input; write ./evaluate for a file of that "
        "name). Input is one message per line (text), JSON objects with a 'text' field "
        "(jsonl) or tab-separated rows whose first column is the text (tsv); the format is "
        "guessed from the file extension when --format is not given. A bad line is reported "
        "on standard error with its number and skipped; the exit status is then 1."
    )
    # Tests pass a file-like object as stdin through call_command.
    stealth_options = ("stdin",)

    def create_parser(self, prog_name: str, subcommand: str, **kwargs: Any) -> CommandParser:
        from argparse import RawDescriptionHelpFormatter

        kwargs.setdefault("formatter_class", RawDescriptionHelpFormatter)
        return super().create_parser(prog_name, subcommand, **kwargs)

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "target",
            nargs="?",
            default="-",
            help="a subcommand (evaluate, train, retrain, versions, rollback) or the file of "
            "messages ('-' for standard input)",
        )
        parser.add_argument("--org", help="organisation slug, for retrain/versions/rollback")
        parser.add_argument("--to", type=int, help="version number, for 'rollback'")
        parser.add_argument("file", nargs="?", help="labelled JSONL file for 'evaluate'")
        parser.add_argument("--format", choices=FORMATS, help="input format (default: guess)")
        parser.add_argument("--smsa", type=Path, help="SmSA folder, for 'train' (sentiment)")
        parser.add_argument(
            "--seed", type=Path, default=training.SEED_FILE, help="seed set, for 'train'"
        )

    def handle(self, *args: Any, **options: Any) -> None:
        target = options["target"]
        if target == "evaluate":
            if not options["file"]:
                raise CommandError(_("Usage: humas triage evaluate FILE.jsonl"))
            self.evaluate(Path(options["file"]))
            return
        if target == "train":
            self.train(options["smsa"], options["seed"])
            return
        if target in ORG_SUBCOMMANDS:
            if options["file"]:
                raise CommandError(_("Unexpected argument: %(arg)s") % {"arg": options["file"]})
            org = self.organisation(options["org"])
            try:
                getattr(self, target)(org, options)
            except ActionError as exc:
                raise CommandError(str(exc)) from exc
            return
        if options["file"]:
            raise CommandError(_("Unexpected argument: %(arg)s") % {"arg": options["file"]})
        self.triage(target, options.get("format"), options.get("stdin"))

    # --- triage ---------------------------------------------------------------------------

    def triage(self, target: str, fmt: str | None, stdin: IO[str] | None) -> None:
        fmt = fmt or guess_format(target)
        bad = 0
        batch: list[tuple[str, Any]] = []
        with open_input(target, stdin) as handle:
            for number, line in enumerate(handle, start=1):
                text, ident, error = parse_line(line, fmt, number)
                if error:
                    bad += 1
                    self.stderr.write(error)
                    continue
                if text is None:
                    continue
                batch.append((text, ident))
                if len(batch) >= BATCH:
                    self.write_batch(batch)
                    batch = []
        self.write_batch(batch)
        if bad:
            self.stderr.write(_("%(count)d bad line(s) skipped.") % {"count": bad})
            raise SystemExit(1)

    def write_batch(self, batch: list[tuple[str, Any]]) -> None:
        if not batch:
            return
        texts = [text for text, _ident in batch]
        for (_text, ident), result in zip(batch, classify_many(texts), strict=True):
            row = result.as_dict()
            if ident is not None:
                row = {"id": ident, **row}
            self.stdout.write(json.dumps(row, ensure_ascii=False))

    # --- evaluate -------------------------------------------------------------------------

    def evaluate(self, path: Path) -> None:
        rows: list[dict[str, Any]] = []
        bad = 0
        with open_input(str(path), None) as handle:
            for number, line in enumerate(handle, start=1):
                if not line.strip():
                    continue
                try:
                    row = json.loads(line)
                except json.JSONDecodeError:
                    row = None
                if not isinstance(row, dict) or not isinstance(row.get("text"), str):
                    bad += 1
                    self.stderr.write(
                        _("Line %(line)d: not a JSON object with a 'text' field.")
                        % {"line": number}
                    )
                    continue
                rows.append(row)
        if not rows:
            raise CommandError(_("No labelled messages in %(path)s.") % {"path": path})
        results = classify_many([str(row["text"]) for row in rows])
        scores = training.score(rows, results)
        self.stdout.write(_("%(count)d messages") % {"count": len(rows)})
        if not scores["fields"]:
            self.stdout.write(_("No labelled fields to score."))
        for line in training.format_scores(scores):
            self.stdout.write(line)
        if bad:
            raise SystemExit(1)

    # --- train ----------------------------------------------------------------------------

    def train(self, smsa: Path | None, seed: Path) -> None:
        if smsa is not None and not (smsa / "train_preprocess.tsv").is_file():
            raise CommandError(
                _("%(path)s has no train_preprocess.tsv (the SmSA folder is needed).")
                % {"path": smsa}
            )
        if not seed.is_file():
            raise CommandError(_("Seed file %(path)s not found.") % {"path": seed})
        if smsa is None:
            self.stdout.write(_("No --smsa given: the shipped sentiment model is kept."))
        report = training.train(smsa, seed_file=seed, log=self.stdout.write)
        self.stdout.write(_("Seed set: %(count)d messages") % {"count": report["seed_rows"]})
        if "smsa_valid_macro_f1" in report:
            self.stdout.write(
                _("Sentiment on the SmSA validation split: macro-F1 %(f1).3f")
                % {"f1": report["smsa_valid_macro_f1"]}
            )
        self.stdout.write(_("Seed set, 5-fold cross-validation:"))
        for line in training.format_scores(report["cv"]):
            self.stdout.write("  " + line)
        self.stdout.write(
            self.style.SUCCESS(_("Models written to %(path)s") % {"path": training.DATA_DIR})
        )

    # --- the organisation's own model -----------------------------------------------------

    def organisation(self, slug: str | None) -> Organisation:
        from humas.accounts.models import Organisation

        if not slug:
            raise CommandError(_("Which organisation? Give --org SLUG."))
        org = Organisation.objects.filter(slug=slug).first()
        if org is None:
            raise CommandError(_("No organisation with the slug %(slug)s.") % {"slug": slug})
        return org

    def retrain(self, org: Organisation, options: dict[str, Any]) -> None:
        from humas.triage.actions import retrain

        def progress(fraction: float, message: str) -> None:
            self.stdout.write(f"[{round(fraction * 100):3d}%] {message}")

        version = retrain(org, by=Actor.system("humas triage retrain"), progress=progress)
        self.stdout.write("")
        self.stdout.write(
            f"{_('field'):<10} {_('before'):>8} {_('after'):>8} {_('held out'):>9}  {_('from')}"
        )
        for field, row in version.scores.items():
            self.stdout.write(
                f"{field:<10} {row['before']:>8.3f} {row['after']:>8.3f} {row['held_out']:>9}  "
                f"{row['held_out_from']}"
            )
        if version.notes:
            self.stdout.write(version.notes)
        self.stdout.write(
            self.style.SUCCESS(
                _("Version %(n)d of %(org)s is active.") % {"n": version.number, "org": org.slug}
            )
        )

    def versions(self, org: Organisation, options: dict[str, Any]) -> None:
        from humas.triage.models import ModelVersion

        rows = ModelVersion.objects.filter(organisation=org).defer("weights").order_by("number")
        if not rows:
            self.stdout.write(_("No versions yet: the shipped model is in use."))
            return
        for version in rows:
            scores = ", ".join(
                f"{field} {row['before']:.3f}->{row['after']:.3f}"
                for field, row in version.scores.items()
            )
            mark = "*" if version.active else " "
            self.stdout.write(
                f"{mark} v{version.number:<3} {version.created_at:%Y-%m-%d %H:%M} "
                f"{_('corrections')}={version.corrections_used:<5} {scores}"
            )
        if not any(version.active for version in rows):
            self.stdout.write(_("In use: the shipped model."))

    def rollback(self, org: Organisation, options: dict[str, Any]) -> None:
        from humas.triage.actions import rollback
        from humas.triage.models import ModelVersion

        number = options.get("to")
        version = None
        if number is not None:
            version = ModelVersion.objects.filter(organisation=org, number=number).first()
            if version is None:
                raise CommandError(
                    _("%(org)s has no version %(n)d.") % {"org": org.slug, "n": number}
                )
        rollback(org, to=version, by=Actor.system("humas triage rollback"))
        if version is None:
            self.stdout.write(self.style.SUCCESS(_("The shipped model is in use again.")))
        else:
            self.stdout.write(
                self.style.SUCCESS(_("Version %(n)d is in use again.") % {"n": version.number})
            )


def guess_format(target: str) -> str:
    lowered = target.lower()
    if lowered.endswith((".jsonl", ".ndjson", ".json")):
        return "jsonl"
    if lowered.endswith(".tsv"):
        return "tsv"
    return "text"


class open_input:
    """Standard input or a file, as text; undecodable bytes become U+FFFD, never an error."""

    def __init__(self, target: str, stdin: IO[str] | None) -> None:
        self.target = target
        self.stdin = stdin
        self.handle: IO[str] | None = None

    def __enter__(self) -> Iterator[str]:
        if self.target == "-":
            if self.stdin is not None:
                return iter(self.stdin)
            stream = sys.stdin
            buffer = getattr(stream, "buffer", None)
            if buffer is not None:
                import io

                return iter(io.TextIOWrapper(buffer, encoding="utf-8", errors="replace"))
            return iter(stream)
        try:
            self.handle = open(self.target, encoding="utf-8", errors="replace")
        except OSError as exc:
            raise CommandError(
                _("Cannot read %(path)s: %(error)s") % {"path": self.target, "error": exc}
            ) from exc
        return iter(self.handle)

    def __exit__(self, *exc: object) -> None:
        if self.handle is not None:
            self.handle.close()


def parse_line(line: str, fmt: str, number: int) -> tuple[str | None, Any, str | None]:
    """``(text, id, error)`` for one input line; text None and no error means skip."""
    line = line.rstrip("\r\n")
    if fmt == "text":
        return line, None, None
    if not line.strip():
        return None, None, None
    if fmt == "tsv":
        text = line.split("\t", 1)[0]
        if number == 1 and text.strip().lower() == "text":
            return None, None, None  # header row
        return text, None, None
    try:
        row = json.loads(line)
    except json.JSONDecodeError as exc:
        return (
            None,
            None,
            _("Line %(line)d: invalid JSON (%(error)s).")
            % {
                "line": number,
                "error": exc.msg,
            },
        )
    if not isinstance(row, dict) or "text" not in row:
        return None, None, _("Line %(line)d: no 'text' field.") % {"line": number}
    if not isinstance(row["text"], str):
        return None, None, _("Line %(line)d: 'text' is not a string.") % {"line": number}
    return row["text"], row.get("id"), None
