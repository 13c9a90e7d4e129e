"""Importing a content plan from a spreadsheet and exporting the calendar.

Import has two steps on purpose. :func:`parse_plan` reads a CSV or XLSX file, checks every
row against the organisation's channels, pillars and campaigns and collects *every* problem
without creating anything, so a team fixes the whole spreadsheet in one go; then
:func:`import_plan` creates the posts in one transaction. The file is untrusted input: its
type is decided by its content (not its name), and its size, row count and unpacked size are
capped before anything is parsed.

Export writes the posts of a date range as CSV, XLSX or iCalendar, times in the
organisation's zone (UTC in iCalendar, where each calendar app converts).
"""

from __future__ import annotations

import csv
import io
import re
import zipfile
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo

import openpyxl
from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import URLValidator
from django.db import transaction
from django.db.models import Q, QuerySet
from django.urls import reverse
from django.utils import timezone, translation
from django.utils.translation import gettext as _
from openpyxl.styles import Font

from humas.accounts.actions import ActionError
from humas.accounts.audit import Actor, record
from humas.accounts.models import Organisation
from humas.channels.models import ChannelAccount, ChannelStatus
from humas.publishing import actions
from humas.publishing.compose import Draft, check_all
from humas.publishing.models import Campaign, Pillar, Post, PostStatus

MAX_BYTES = 2 * 1024 * 1024
MAX_ROWS = 1000
# A 2 MB workbook can unpack to gigabytes (a "zip bomb"); real plans unpack to a few MB.
MAX_UNPACKED_BYTES = 50 * 1024 * 1024
# Columns read from a workbook; anything further right is not part of a plan.
MAX_COLUMNS = 30

XLSX_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"

Cell = str | int | float | date | time | None


@dataclass(frozen=True)
class Column:
    key: str
    names: tuple[str, ...]
    required: bool = False


#: The columns of a plan; a header may use the English or the Indonesian name, in any case.
COLUMNS = (
    Column("title", ("title", "judul"), required=True),
    Column("text", ("text", "teks"), required=True),
    Column("date", ("date", "tanggal")),
    Column("time", ("time", "jam")),
    Column("channels", ("channels", "saluran")),
    Column("pillar", ("pillar", "pilar")),
    Column("campaign", ("campaign", "kampanye")),
    Column("link", ("link", "tautan")),
)

#: key -> (English name, Indonesian name)
_COLUMN_NAMES = {column.key: (column.names[0], column.names[-1]) for column in COLUMNS}

#: The template's header, in Indonesian (the language of the people filling it in).
TEMPLATE_HEADER = [column.names[-1] for column in COLUMNS]


@dataclass
class RowError:
    """One problem, placed where the person sees it in their spreadsheet."""

    row: int
    column: str
    message: str


@dataclass
class PlanRow:
    """One valid row, ready to become a post."""

    row: int
    title: str
    text: str
    when: datetime | None = None
    channels: list[ChannelAccount] = field(default_factory=list)
    pillar: Pillar | None = None
    campaign: Campaign | None = None
    link: str = ""


@dataclass
class Plan:
    rows: list[PlanRow]
    errors: list[RowError]
    time_zone: str

    @property
    def ok(self) -> bool:
        return bool(self.rows) and not self.errors


# --- reading the file ---------------------------------------------------------------------


def _not_a_plan() -> ActionError:
    return ActionError(
        _("This is not a CSV or Excel (.xlsx) file. Save the plan as “CSV UTF-8” or as .xlsx.")
    )


def _too_many_rows() -> ActionError:
    return ActionError(
        _("The file has more than %(max)s rows; split the plan into smaller files.")
        % {"max": MAX_ROWS}
    )


def read_table(data: bytes, filename: str = "") -> list[tuple[int, list[Cell]]]:
    """The file's rows as (row number as the spreadsheet shows it, cells), blank rows left out.

    The type comes from the content: an XLSX workbook is a ZIP archive (``PK``), anything
    else must be UTF-8 text. A name that promises a workbook must be one.
    """
    if len(data) > MAX_BYTES:
        raise ActionError(
            _("The file is larger than %(size)s MB.") % {"size": MAX_BYTES // (1024 * 1024)}
        )
    if not data.strip():
        raise ActionError(_("The file is empty."))
    name = filename.lower()
    is_zip = data.startswith(b"PK\x03\x04")
    if name.endswith(".xls"):
        raise ActionError(
            _("Old Excel files (.xls) cannot be read; save the plan as .xlsx or as CSV.")
        )
    if name.endswith((".xlsx", ".xlsm")) and not is_zip:
        raise ActionError(
            _(
                "The file is named like an Excel workbook but is not one; open it in Excel "
                "and save it again as .xlsx, or as CSV."
            )
        )
    rows = _read_xlsx(data) if is_zip else _read_csv(data)
    if not rows:
        raise ActionError(_("The file is empty."))
    return rows


def _is_blank(cells: Sequence[Cell]) -> bool:
    return all(c is None or (isinstance(c, str) and not c.strip()) for c in cells)


def _read_csv(data: bytes) -> list[tuple[int, list[Cell]]]:
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise _not_a_plan() from None
    if "\x00" in text:
        raise _not_a_plan()
    # Excel in Indonesian (decimal comma) separates cells with semicolons; in English with
    # commas. The header line has no quoted commas, so counting there is enough.
    header = next((line for line in text.splitlines() if line.strip()), "")
    counts = {d: header.count(d) for d in (";", ",", "\t")}
    delimiter = max(counts, key=lambda d: counts[d]) if any(counts.values()) else ","
    rows: list[tuple[int, list[Cell]]] = []
    try:
        reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
        # Each record is one spreadsheet row, even when a quoted cell spans several lines.
        for number, record in enumerate(reader, start=1):
            if _is_blank(record):
                continue
            rows.append((number, list(record[:MAX_COLUMNS])))
            if len(rows) > MAX_ROWS + 1:
                raise _too_many_rows()
    except csv.Error:
        raise _not_a_plan() from None
    return rows


def _read_xlsx(data: bytes) -> list[tuple[int, list[Cell]]]:
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            unpacked = sum(info.file_size for info in archive.infolist())
    except (zipfile.BadZipFile, OSError):
        raise _not_a_plan() from None
    if unpacked > MAX_UNPACKED_BYTES:
        raise ActionError(_("The workbook is too large once unpacked; split the plan."))
    try:
        book = openpyxl.load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    except Exception:  # openpyxl raises many kinds for a ZIP that is not a workbook
        raise _not_a_plan() from None
    rows: list[tuple[int, list[Cell]]] = []
    try:
        sheet = book.worksheets[0]
        # Some programs write a wrong size into the sheet; read what is really there.
        sheet.reset_dimensions()
        values = sheet.iter_rows(min_row=1, max_col=MAX_COLUMNS, values_only=True)
        for number, record in enumerate(values, start=1):
            cells = list(record)
            if _is_blank(cells):
                continue
            rows.append((number, cells))
            if len(rows) > MAX_ROWS + 1:
                raise _too_many_rows()
    except ActionError:
        raise
    except Exception:
        raise _not_a_plan() from None
    finally:
        book.close()
    return rows


# --- checking the rows --------------------------------------------------------------------


def _normal_header(value: Cell) -> str:
    return " ".join(str(value or "").replace("\ufeff", "").strip(" *:").lower().split())


def _as_text(value: Cell) -> str:
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value).strip()


_ISO_DATE = re.compile(r"(\d{4})-(\d{1,2})-(\d{1,2})(?:[ T]00:00(?::00)?)?")
_LOCAL_DATE = re.compile(r"(\d{1,2})/(\d{1,2})/(\d{4})")
_TIME = re.compile(r"(\d{1,2})[:.](\d{2})(?::\d{2})?")


def _as_date(value: Cell) -> date:
    """A date from a workbook cell, ``YYYY-MM-DD`` or ``DD/MM/YYYY``; ValueError otherwise."""
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    text = _as_text(value)
    if match := _ISO_DATE.fullmatch(text):
        year, month, day = (int(part) for part in match.groups())
    elif match := _LOCAL_DATE.fullmatch(text):
        day, month, year = (int(part) for part in match.groups())
    else:
        raise ValueError(text)
    return date(year, month, day)


def _as_time(value: Cell) -> time:
    """A time from a workbook cell or ``HH:MM`` (Indonesian writing: ``HH.MM``)."""
    if isinstance(value, datetime):
        return value.time().replace(second=0, microsecond=0)
    if isinstance(value, time):
        return value.replace(second=0, microsecond=0)
    match = _TIME.fullmatch(_as_text(value))
    if match is None:
        raise ValueError(value)
    return time(int(match[1]), int(match[2]))


def _bare(handle: str) -> str:
    return handle.strip().lstrip("@").lower()


class _Lookups:
    """The organisation's channels, pillars and campaigns, read once per file."""

    def __init__(self, org: Organisation) -> None:
        self.channels = list(
            ChannelAccount.objects.filter(organisation=org).order_by("network", "handle")
        )
        self.pillars = {p.name.strip().lower(): p for p in Pillar.objects.filter(organisation=org)}
        self.campaigns: dict[str, Campaign] = {}
        for campaign in Campaign.objects.filter(organisation=org):
            self.campaigns.setdefault(campaign.slug.lower(), campaign)
            self.campaigns.setdefault(campaign.name.strip().lower(), campaign)

    def usable(self) -> list[ChannelAccount]:
        """Where a row without a channel goes: every connected channel that can publish."""
        found = []
        for channel in self.channels:
            if channel.status == ChannelStatus.DISABLED:
                continue
            try:
                if channel.provider_class.capabilities.publish:
                    found.append(channel)
            except (KeyError, ImportError):  # a network this installation no longer has
                continue
        return found

    def channels_named(self, value: str) -> tuple[list[ChannelAccount], list[str]]:
        """The channels a cell names (by handle or by network), and the names not found."""
        chosen: dict[int, ChannelAccount] = {}
        unknown: list[str] = []
        for token in (t.strip() for t in value.replace(";", ",").split(",")):
            if not token:
                continue
            wanted = _bare(token)
            matches = [c for c in self.channels if _bare(c.handle) == wanted]
            if not matches and not token.startswith("@"):
                matches = [
                    c
                    for c in self.channels
                    if c.network.lower() == wanted and c.status != ChannelStatus.DISABLED
                ]
            if not matches:
                unknown.append(token)
            for channel in matches:
                chosen[channel.pk] = channel
        return list(chosen.values()), unknown


class _Row:
    """One data row: its cells by column key, and the problems found in it."""

    def __init__(self, number: int, cells: list[Cell], keys: dict[str, int], shown: dict[str, str]):
        self.number = number
        self.cells = cells
        self.keys = keys
        self.shown = shown
        self.errors: list[RowError] = []

    def __getitem__(self, key: str) -> Cell:
        index = self.keys.get(key)
        return self.cells[index] if index is not None and index < len(self.cells) else None

    def text(self, key: str) -> str:
        return _as_text(self[key])

    def fail(self, key: str, message: str) -> None:
        # The header as the file wrote it; a column the file lacks is named in the reader's
        # language (the Indonesian name in the Indonesian interface).
        column = self.shown.get(key) or _COLUMN_NAMES[key][translation.get_language() == "id"]
        self.errors.append(RowError(row=self.number, column=column, message=message))


def _when(row: _Row, zone: ZoneInfo, now: datetime) -> datetime | None:
    has_date, has_time = bool(row.text("date")), bool(row.text("time"))
    if has_date and not has_time:
        row.fail("time", _("Give a time as well as the date."))
    elif has_time and not has_date:
        row.fail("date", _("Give a date as well as the time."))
    if not (has_date and has_time):
        return None
    day = at = None
    try:
        day = _as_date(row["date"])
    except ValueError:
        row.fail(
            "date",
            _("“%(value)s” is not a date; write YYYY-MM-DD or DD/MM/YYYY.")
            % {"value": row.text("date")[:40]},
        )
    try:
        at = _as_time(row["time"])
    except ValueError:
        row.fail(
            "time",
            _("“%(value)s” is not a time; write HH:MM, for example 08:30.")
            % {"value": row.text("time")[:40]},
        )
    if day is None or at is None:
        return None
    when = datetime.combine(day, at, tzinfo=zone)
    if when <= now:
        row.fail(
            "time", _("%(when)s has already passed.") % {"when": when.strftime("%d/%m/%Y %H:%M")}
        )
    return when


def _channels(row: _Row, lookups: _Lookups) -> list[ChannelAccount]:
    named = row.text("channels")
    if not named:
        channels = lookups.usable()
        if not channels:
            row.fail("channels", _("No channel is connected yet; connect one first."))
        return channels
    channels, unknown = lookups.channels_named(named)
    for token in unknown:
        row.fail(
            "channels",
            _("“%(name)s” is not one of this organisation's channels.") % {"name": token[:60]},
        )
    for channel in channels:
        if channel.status == ChannelStatus.DISABLED:
            row.fail(
                "channels",
                _("%(channel)s is disconnected; connect it again or leave it out.")
                % {"channel": channel},
            )
    if not channels and not unknown:
        row.fail("channels", _("Name at least one channel."))
    return channels


def _check_row(row: _Row, lookups: _Lookups, zone: ZoneInfo, now: datetime) -> PlanRow | None:
    title = row.text("title")
    text = str(row["text"] or "").strip()
    if not title:
        row.fail("title", _("A title is required."))
    elif len(title) > 200:
        row.fail("title", _("The title is longer than 200 characters."))
    if not text:
        row.fail("text", _("The text is required."))
    when = _when(row, zone, now)
    channels = _channels(row, lookups)

    pillar = None
    if name := row.text("pillar"):
        pillar = lookups.pillars.get(name.lower())
        if pillar is None or not pillar.is_active:
            row.fail("pillar", _("There is no pillar named “%(name)s”.") % {"name": name[:60]})
    campaign = None
    if name := row.text("campaign"):
        campaign = lookups.campaigns.get(name.lower())
        if campaign is None:
            row.fail("campaign", _("There is no campaign named “%(name)s”.") % {"name": name[:60]})
    link = row.text("link")
    if link:
        try:
            if len(link) > 1000:
                raise ValidationError("too long")
            URLValidator(schemes=["http", "https"])(link)
        except ValidationError:
            row.fail("link", _("“%(value)s” is not a web address.") % {"value": link[:60]})

    # The same check the composer runs: each network's length and content rules.
    ready = [c for c in channels if c.status != ChannelStatus.DISABLED]
    if text and ready:
        names = {c.pk: str(c) for c in ready}
        checks = check_all([Draft(channel=c, text=text) for c in ready], [], link=link)
        for channel_id, check in checks.items():
            for problem in check.problems:
                row.fail(
                    "text",
                    _("%(channel)s: %(problem)s")
                    % {"channel": names[channel_id], "problem": problem},
                )
    if row.errors:
        return None
    return PlanRow(
        row=row.number,
        title=title,
        text=text,
        when=when,
        channels=channels,
        pillar=pillar,
        campaign=campaign,
        link=link,
    )


def parse_plan(
    org: Organisation, data: bytes, *, filename: str = "", now: datetime | None = None
) -> Plan:
    """Check a plan file row by row; nothing is created.

    Raises :class:`ActionError` for a problem with the whole file (type, size, header);
    problems in rows are collected in :attr:`Plan.errors`, each with its spreadsheet row.
    """
    table = read_table(data, filename)
    header, body = table[0][1], table[1:]
    keys: dict[str, int] = {}
    shown: dict[str, str] = {}
    for index, value in enumerate(header):
        name = _normal_header(value)
        for column in COLUMNS:
            if name in column.names and column.key not in keys:
                keys[column.key] = index
                shown[column.key] = _as_text(value)
    missing = [c.names for c in COLUMNS if c.required and c.key not in keys]
    if missing:
        raise ActionError(
            _(
                "The first row must name the columns; missing: %(columns)s. "
                "Download the template to see the expected header."
            )
            % {"columns": ", ".join(" / ".join(names) for names in missing)}
        )
    if not body:
        raise ActionError(_("The file has a header but no rows under it."))
    if len(body) > MAX_ROWS:
        raise _too_many_rows()

    zone = ZoneInfo(org.time_zone)
    now = now or timezone.now()
    lookups = _Lookups(org)
    plan = Plan(rows=[], errors=[], time_zone=org.time_zone)
    for number, cells in body:
        row = _Row(number, cells, keys, shown)
        checked = _check_row(row, lookups, zone, now)
        if checked is not None:
            plan.rows.append(checked)
        plan.errors.extend(row.errors)
    return plan


# --- creating the posts -------------------------------------------------------------------


def import_plan(org: Organisation, rows: Sequence[PlanRow], *, by: Actor) -> list[Post]:
    """Create one draft per row, all or none, and write one summary audit entry.

    A row with a time is scheduled right away where the organisation needs no approval.
    Otherwise the time is kept on the draft as the planned time: the post is scheduled for
    it when its last approval is given (see :func:`humas.publishing.actions.decide`).
    """
    if not rows:
        raise ActionError(_("There is nothing to import."))
    posts: list[Post] = []
    scheduled = 0
    with transaction.atomic():
        for row in rows:
            try:
                post = actions.save_post(
                    org,
                    by=by,
                    title=row.title,
                    text=row.text,
                    link=row.link,
                    pillar=row.pillar,
                    campaign=row.campaign,
                    drafts=[Draft(channel=c, text=row.text) for c in row.channels],
                )
                if row.when is not None and not org.approval_steps:
                    actions.schedule_post(post, by=by, when=row.when)
                    scheduled += 1
                elif row.when is not None:
                    Post.objects.filter(pk=post.pk).update(scheduled_at=row.when)
                    post.scheduled_at = row.when
            except ActionError as exc:
                raise ActionError(
                    _("Row %(row)s: %(error)s") % {"row": row.row, "error": exc}
                ) from exc
            posts.append(post)
        record(
            "publishing.plan.imported",
            actor=by,
            organisation=org,
            payload={
                "count": len(posts),
                "scheduled": scheduled,
                "posts": [p.pk for p in posts],
            },
        )
    return posts


def template_rows(org: Organisation) -> list[list[str]]:
    """The header and one example row (in Indonesian) for people starting a plan."""
    tomorrow = timezone.now().astimezone(ZoneInfo(org.time_zone)).date() + timedelta(days=1)
    networks = sorted(
        {
            c.network
            for c in ChannelAccount.objects.filter(organisation=org).exclude(
                status=ChannelStatus.DISABLED
            )
            if c.network != "rss"
        }
    )
    pillar = Pillar.objects.filter(organisation=org, is_active=True).first()
    return [
        TEMPLATE_HEADER,
        [
            "Jadwal posyandu",
            "Posyandu buka Sabtu pukul 08.00 di balai RW 05. Bawa buku KIA, ya!",
            tomorrow.isoformat(),
            "09:00",
            ", ".join(networks),
            pillar.name if pillar else "",
            "",
            "",
        ],
    ]


def template_csv(org: Organisation) -> bytes:
    # Semicolons and a byte-order mark: what Excel set to Indonesian opens without a wizard.
    buffer = io.StringIO()
    writer = csv.writer(buffer, delimiter=";", lineterminator="\r\n")
    writer.writerows(template_rows(org))
    return ("\ufeff" + buffer.getvalue()).encode()


# --- exporting the calendar ---------------------------------------------------------------


def month_of(day: date) -> tuple[date, date]:
    first = day.replace(day=1)
    following = (first + timedelta(days=32)).replace(day=1)
    return first, following - timedelta(days=1)


def posts_between(posts: QuerySet[Post], org: Organisation, start: date, end: date) -> list[Post]:
    """Posts planned, scheduled or published from ``start`` to ``end`` (days in the org zone)."""
    zone = ZoneInfo(org.time_zone)
    since = datetime.combine(start, time.min, tzinfo=zone)
    until = datetime.combine(end + timedelta(days=1), time.min, tzinfo=zone)
    found = (
        posts.filter(
            Q(scheduled_at__gte=since, scheduled_at__lt=until)
            | Q(scheduled_at__isnull=True, published_at__gte=since, published_at__lt=until)
        )
        .prefetch_related("variants__channel")
        .order_by("scheduled_at", "published_at", "pk")
    )
    return list(found)


def when_of(post: Post) -> datetime | None:
    return post.scheduled_at or post.published_at


def post_url(post: Post) -> str:
    return settings.SITE_URL + reverse("publishing:post", args=[post.pk])


def export_header() -> list[str]:
    return [
        _("Date"),
        _("Time"),
        _("Title"),
        _("Status"),
        _("Pillar"),
        _("Campaign"),
        _("Channels"),
        _("Link"),
    ]


def _spreadsheet_safe(value: str) -> str:
    # A cell starting with = + - @ is run as a formula by spreadsheet programs; a title is
    # written by people, so it must never become one (CSV injection).
    return "'" + value if value[:1] in ("=", "+", "-", "@", "\t", "\r") else value


def export_rows(posts: Iterable[Post], org: Organisation) -> list[list[str]]:
    zone = ZoneInfo(org.time_zone)
    rows = []
    for post in posts:
        when = when_of(post)
        local = when.astimezone(zone) if when else None
        rows.append(
            [
                local.date().isoformat() if local else "",
                local.strftime("%H:%M") if local else "",
                _spreadsheet_safe(post.title),
                str(PostStatus(post.status).label),
                _spreadsheet_safe(post.pillar.name) if post.pillar else "",
                _spreadsheet_safe(post.campaign.name) if post.campaign else "",
                ", ".join(str(v.channel.handle) for v in post.variants.all()),
                post_url(post),
            ]
        )
    return rows


def export_csv(posts: Iterable[Post], org: Organisation) -> bytes:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(export_header())
    writer.writerows(export_rows(posts, org))
    # The byte-order mark makes Excel read the file as UTF-8 (names with accents, emoji).
    return ("\ufeff" + buffer.getvalue()).encode()


def export_xlsx(posts: Iterable[Post], org: Organisation) -> bytes:
    book = openpyxl.Workbook()
    sheet = book.worksheets[0]
    sheet.title = _("Calendar")[:31]
    sheet.append(export_header())
    for row in export_rows(posts, org):
        sheet.append(row)
    for cell in sheet[1]:
        cell.font = Font(bold=True)
    for letter, width in zip("ABCDEFGH", (12, 8, 40, 22, 20, 24, 30, 45), strict=True):
        sheet.column_dimensions[letter].width = width
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()


ICS_STATUSES = frozenset(
    {PostStatus.SCHEDULED, PostStatus.PUBLISHING, PostStatus.PUBLISHED, PostStatus.FAILED}
)


def _ics_text(value: str) -> str:
    """Escape a TEXT value (RFC 5545 §3.3.11)."""
    return (
        value.replace("\\", "\\\\")
        .replace(";", "\\;")
        .replace(",", "\\,")
        .replace("\r\n", "\\n")
        .replace("\n", "\\n")
        .replace("\r", "\\n")
    )


def _ics_fold(line: str) -> str:
    """Fold a content line at 75 octets without splitting a UTF-8 character (§3.1)."""
    parts: list[str] = []
    current, size, limit = "", 0, 75
    for char in line:
        width = len(char.encode())
        if size + width > limit:
            parts.append(current)
            current, size, limit = "", 0, 74  # continuation lines start with a space
        current += char
        size += width
    parts.append(current)
    return "\r\n ".join(parts)


def _ics_time(value: datetime) -> str:
    return value.astimezone(UTC).strftime("%Y%m%dT%H%M%SZ")


def export_ics(posts: Iterable[Post], org: Organisation, *, now: datetime | None = None) -> bytes:
    """An iCalendar file with one event per scheduled or published post (times in UTC)."""
    stamp = _ics_time(now or timezone.now())
    host = urlsplit(settings.SITE_URL).hostname or "humas"
    lines = [
        "BEGIN:VCALENDAR",
        "VERSION:2.0",
        "PRODID:-//humas//publishing calendar//ID",
        "CALSCALE:GREGORIAN",
        "METHOD:PUBLISH",
        f"X-WR-CALNAME:{_ics_text(org.name)}",
    ]
    for post in posts:
        when = when_of(post)
        if when is None or post.status not in ICS_STATUSES:
            continue
        channels = ", ".join(str(v.channel.handle) for v in post.variants.all())
        description = "\n".join(
            part for part in (str(PostStatus(post.status).label), channels, post.text) if part
        )
        lines += [
            "BEGIN:VEVENT",
            f"UID:post-{post.pk}@{host}",
            f"DTSTAMP:{stamp}",
            f"DTSTART:{_ics_time(when)}",
            f"SUMMARY:{_ics_text(post.title)}",
            f"DESCRIPTION:{_ics_text(description)}",
            f"URL:{post_url(post)}",
            "END:VEVENT",
        ]
    lines.append("END:VCALENDAR")
    return "".join(_ics_fold(line) + "\r\n" for line in lines).encode()
