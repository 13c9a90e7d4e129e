"""The organisation's report for a month or any range of days: one :class:`Report`, four forms.

:func:`build` gathers every section once (key figures against the previous period, goals,
the dashboards' charts and top posts, inbox performance and notable complaints resolved, the
pillar mix) with the functions dashboards and goals use, so a report never disagrees with
the pages. The same report is then written as HTML (:func:`render_html`: the on-screen
preview and the PDF share one body template), as PDF (:func:`pdf`, WeasyPrint), as XLSX
(:func:`xlsx`, one sheet per section and per chart) and as one long CSV (:func:`csv`).

A report is built in one language (Indonesian or English) and everything in it (titles,
chart names, units, dates) is in that language, whatever the reader's interface says: a
report e-mailed to the head of the agency reads the same as the one downloaded.
"""

from __future__ import annotations

import csv as csvlib
import io
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

from django.conf import settings
from django.contrib.staticfiles import finders
from django.core.mail import EmailMessage
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone, translation
from django.utils.formats import date_format
from django.utils.translation import gettext as _

from humas.accounts.models import Organisation
from humas.analytics import dashboards, goals, inbox_health, kpis, svg
from humas.analytics.charts import Chart, Number
from humas.analytics.models import Goal, ReportSchedule
from humas.analytics.periods import Period, last_month
from humas.lib.pdf import PdfUnavailable, html_to_pdf
from humas.lib.sheets import safe_cell
from humas.lib.workdays import WorkCalendar

#: Languages a report can be written in (the interface's languages).
LANGUAGES = ("id", "en")

CSS_PATH = "analytics/report.css"


class ReportError(Exception):
    """A report that cannot be produced here; the message is for the user (translated)."""


@dataclass(frozen=True)
class Figure:
    """One number of the period with the previous period's, for comparison."""

    key: str
    label: str
    value: Number
    previous: Number = None
    unit: str = ""
    # Shown instead of the number when there is none (why it is missing).
    empty_text: str = ""
    lower_is_better: bool = False

    @property
    def change(self) -> Decimal | None:
        if self.value is None or self.previous is None:
            return None
        return Decimal(self.value) - Decimal(self.previous)


@dataclass(frozen=True)
class PillarRow:
    name: str
    posts: int
    share: Decimal
    target: int


@dataclass
class Report:
    organisation: Organisation
    period: Period
    language: str
    generated_at: datetime
    figures: list[Figure] = field(default_factory=list)
    goals: list[goals.GoalRow] = field(default_factory=list)
    charts: list[Chart] = field(default_factory=list)
    # Remarks on counts a network does not give ("Quotes: not provided by Telegram.").
    notes: list[str] = field(default_factory=list)
    top_posts: list[dashboards.PostRow] = field(default_factory=list)
    inbox: list[Figure] = field(default_factory=list)
    inbox_charts: list[Chart] = field(default_factory=list)
    resolved: list[inbox_health.ResolvedComplaint] = field(default_factory=list)
    pillars: list[PillarRow] = field(default_factory=list)
    pillar_match: Decimal | None = None

    @property
    def previous(self) -> Period:
        return self.period.previous()

    @property
    def all_charts(self) -> list[Chart]:
        return [*self.charts, *self.inbox_charts]

    def file_name(self, extension: str) -> str:
        span = self.period.query().replace("bulan=", "").replace("dari=", "")
        return f"laporan-{self.organisation.slug}-{span.replace('&sampai=', '_')}.{extension}"


# --- gathering -------------------------------------------------------------------------------


def key_figures(org: Organisation, period: Period, overview: dashboards.Dashboard) -> list[Figure]:
    """The overview's KPI cards, then the conversion rate and the pillar mix (from
    :mod:`kpis`), each with the previous period."""
    none_yet = _("not enough data yet")
    figures = [
        Figure(card.key, card.label, card.value, card.previous, card.unit, card.note or none_yet)
        for card in overview.figures
    ]
    start, end = period.bounds(org)
    before = period.previous().bounds(org)
    figures.append(
        Figure(
            "conversion_rate",
            _("Conversion rate"),
            kpis.conversion_rate(org, start, end),
            kpis.conversion_rate(org, *before),
            "%",
            _("Nothing was clicked."),
        )
    )
    figures.append(
        Figure(
            "pillar_mix",
            _("Content pillar mix (match with targets)"),
            kpis.pillar_mix_match(kpis.pillar_mix(org, start, end)),
            kpis.pillar_mix_match(kpis.pillar_mix(org, *before)),
            "%",
            none_yet,
        )
    )
    return figures


def _minutes(wait: timedelta | None) -> Decimal | None:
    return None if wait is None else goals.minutes(wait)


def inbox_figures(health: inbox_health.InboxHealth) -> list[Figure]:
    now, before = health.current, health.previous
    none_yet = _("not enough data yet")
    minutes = _("min")
    return [
        Figure(
            "inbound_messages",
            _("Messages from citizens"),
            now.inbound_messages,
            before.inbound_messages,
        ),
        Figure(
            "conversations_opened",
            _("Conversations opened"),
            now.conversations_opened,
            before.conversations_opened,
        ),
        Figure(
            "first_response",
            _("Median first-response time"),
            _minutes(now.median_first_response),
            _minutes(before.median_first_response),
            minutes,
            _("Nothing was answered."),
            lower_is_better=True,
        ),
        Figure(
            "resolution",
            _("Median resolution time"),
            _minutes(now.median_resolution),
            _minutes(before.median_resolution),
            minutes,
            _("Nothing was resolved."),
            lower_is_better=True,
        ),
        Figure(
            "complaints_resolved",
            _("Complaints resolved (with a deadline)"),
            now.complaints_resolved,
            before.complaints_resolved,
        ),
        Figure(
            "resolved_within_deadline",
            _("Complaints resolved within the deadline"),
            now.resolved_within_deadline,
            before.resolved_within_deadline,
            "%",
            none_yet,
        ),
    ]


def goal_rows(org: Organisation, period: Period) -> list[goals.GoalRow]:
    """Every goal whose own period overlaps the report's, for the organisation, a channel
    or a campaign, each measured over its own period (a quarterly goal in a monthly report
    shows how far the quarter has come)."""
    found = Goal.objects.filter(
        organisation=org, starts_on__lte=period.last, ends_on__gte=period.first
    ).select_related("organisation", "channel", "campaign")
    return goals.rows(list(found))


def pillar_rows(org: Organisation, period: Period) -> tuple[list[PillarRow], Decimal | None]:
    mix = kpis.pillar_mix(org, *period.bounds(org))
    rows = [
        PillarRow(
            name=row.pillar.name if row.pillar is not None else _("Without a pillar"),
            posts=row.posts,
            share=row.share,
            target=row.target,
        )
        for row in mix or []
    ]
    return rows, kpis.pillar_mix_match(mix)


def build(org: Organisation, period: Period, *, language: str) -> Report:
    """Everything the report shows, computed once, with texts in ``language``."""
    if language not in LANGUAGES:
        raise ValueError(f"unknown report language {language!r}")
    with translation.override(language):
        overview = dashboards.overview(org, period)
        health = inbox_health.inbox_health(org, period)
        pillars, match = pillar_rows(org, period)
        return Report(
            organisation=org,
            period=period,
            language=language,
            generated_at=timezone.now(),
            figures=key_figures(org, period, overview),
            goals=goal_rows(org, period),
            charts=list(overview.charts),
            notes=list(overview.notes),
            # The overview has read the period's posts already; rank those.
            top_posts=dashboards.ranked(org, overview.posts, limit=5),
            inbox=inbox_figures(health),
            inbox_charts=list(health.charts),
            resolved=inbox_health.notable_resolved(org, period, limit=5),
            pillars=pillars,
            pillar_match=match,
        )


# --- HTML and PDF ----------------------------------------------------------------------------


def period_label(period: Period) -> str:
    """ "November 2026" for a whole month, "3 November 2026 – 9 November 2026" otherwise, in
    the active language."""
    if period.is_month:
        return date_format(period.first, "F Y")
    return f"{date_format(period.first, 'j F Y')} – {date_format(period.last, 'j F Y')}"


def context(report: Report) -> dict[str, Any]:
    """What the report templates need; call inside ``translation.override(report.language)``."""
    zone = kpis.zone_of(report.organisation)
    return {
        "report": report,
        "org": report.organisation,
        "period": report.period,
        "period_label": period_label(report.period),
        "previous_label": period_label(report.previous),
        "charts": [(chart, svg.render(chart)) for chart in report.charts],
        "inbox_charts": [(chart, svg.render(chart)) for chart in report.inbox_charts],
        "generated": report.generated_at.astimezone(zone),
        "time_zone": report.organisation.get_time_zone_display(),  # type: ignore[attr-defined]
    }


def render_html(report: Report, *, document: bool = False) -> str:
    """The report's body (for the on-screen preview) or, with ``document``, a whole HTML
    document around the same body for the PDF. Always in the report's language."""
    template = "analytics/report_document.html" if document else "analytics/report_body.html"
    with translation.override(report.language):
        return render_to_string(template, {**context(report), "LANGUAGE_CODE": report.language})


def stylesheet() -> str:
    found = finders.find(CSS_PATH)
    if not found:
        raise ReportError(_("The report's stylesheet is missing from the installation."))
    return Path(str(found)).read_text(encoding="utf-8")


def pdf(report: Report) -> bytes:
    """The report as an A4 PDF (WeasyPrint); :class:`ReportError` when this server cannot
    make PDFs (WeasyPrint needs the Pango library from the operating system)."""
    try:
        return html_to_pdf(render_html(report, document=True), stylesheet())
    except PdfUnavailable as exc:
        raise ReportError(
            _(
                "PDF reports cannot be made on this server: the Pango library is not "
                "installed (see docs/reports.md). The XLSX and CSV downloads still work."
            )
        ) from exc


# --- XLSX ------------------------------------------------------------------------------------


def _number(value: Number) -> int | float | None:
    """A spreadsheet number: Decimal as float (openpyxl writes Decimal too, but some readers
    show it as text), None as an empty cell."""
    if value is None:
        return None
    if isinstance(value, int):
        return value
    return float(value)


def _cell(value: object) -> object:
    if value is None or isinstance(value, (int, float, date)):
        return value
    if isinstance(value, Decimal):
        return float(value)
    return safe_cell(value)


def _sheet_title(text: str, used: set[str]) -> str:
    cleaned = "".join(" " if ch in "[]:*?/\\" else ch for ch in text).strip()[:28] or "—"
    title, number = cleaned, 2
    while title.lower() in used:
        title = f"{cleaned[:25]} {number}"
        number += 1
    used.add(title.lower())
    return title


def _label_cell(label: str) -> object:
    try:
        return date.fromisoformat(label)
    except ValueError:
        return safe_cell(label)


def goal_scope(row: goals.GoalRow) -> str:
    goal = row.goal
    if goal.channel is not None:
        return str(goal.channel)
    if goal.campaign is not None:
        return goal.campaign.name
    return _("Whole organisation")


def tables(report: Report) -> Iterator[tuple[str, list[str], list[list[object]]]]:
    """Each section of the report as (title, header, rows) with raw values: what the XLSX
    sheets hold. Call inside ``translation.override(report.language)``."""
    yield (
        _("Key figures"),
        [_("Figure"), _("This period"), _("Previous period"), _("Difference"), _("Measured in")],
        [
            [f.label, _number(f.value), _number(f.previous), _number(f.change), f.unit]
            for f in report.figures
        ],
    )
    yield (
        _("Goals"),
        [
            _("Measure"),
            _("For"),
            _("From"),
            _("Until"),
            _("Target"),
            _("Current"),
            _("Progress (%)"),
            _("Met"),
        ],
        [
            [
                row.goal.get_metric_display(),  # type: ignore[attr-defined]
                goal_scope(row),
                row.goal.starts_on,
                row.goal.ends_on,
                _number(row.goal.target),
                _number(row.value),
                _number(row.progress),
                _("yes") if row.met else _("no"),
            ]
            for row in report.goals
        ],
    )
    yield (
        _("Top posts"),
        [
            _("Post"),
            _("Channel"),
            _("Published"),
            _("Engagement"),
            _("Engagement rate (%)"),
            _("Address"),
        ],
        [
            [
                row.text,
                f"{row.channel} ({row.network})",
                row.published_at.replace(tzinfo=None),
                row.engagement,
                _number(row.rate),
                row.url,
            ]
            for row in report.top_posts
        ],
    )
    yield (
        _("Inbox"),
        [_("Figure"), _("This period"), _("Previous period"), _("Difference"), _("Measured in")],
        [
            [f.label, _number(f.value), _number(f.previous), _number(f.change), f.unit]
            for f in report.inbox
        ],
    )
    yield (
        _("Complaints resolved"),
        [
            _("Tracking number"),
            _("Category"),
            _("Unit"),
            _("Opened"),
            _("Resolved"),
            _("Working days"),
            _("Within the deadline"),
        ],
        [
            [
                row.tracking_number,
                row.category,
                row.unit or "",
                row.opened,
                row.resolved,
                row.working_days,
                _("yes") if row.within_deadline else _("no"),
            ]
            for row in report.resolved
        ],
    )
    yield (
        _("Pillar mix"),
        [_("Pillar"), _("Posts"), _("Share (%)"), _("Target (%)")],
        [[row.name, row.posts, _number(row.share), row.target] for row in report.pillars],
    )


def xlsx(report: Report) -> bytes:
    """One sheet for the report's facts, one per section, one per chart's data; numbers are
    numbers and dates are dates, so the figures can be summed and charted again."""
    from openpyxl import Workbook
    from openpyxl.styles import Font

    with translation.override(report.language):
        book = Workbook()
        used: set[str] = set()
        about = book.active
        assert about is not None  # noqa: S101 - a new workbook always has one sheet
        about.title = _sheet_title(_("Report"), used)
        bold = Font(bold=True)
        for label, value in (
            (_("Organisation"), report.organisation.name),
            (_("From"), report.period.first),
            (_("Until"), report.period.last),
            (_("Compared with"), f"{report.previous.first} – {report.previous.last}"),
            (_("Time zone"), report.organisation.time_zone),
            (
                _("Made"),
                timezone.localtime(report.generated_at, kpis.zone_of(report.organisation)).replace(
                    tzinfo=None
                ),
            ),
        ):
            about.append([label, _cell(value)])
            about.cell(row=about.max_row, column=1).font = bold
        about.column_dimensions["A"].width = 24
        about.column_dimensions["B"].width = 40
        for title, header, rows in tables(report):
            sheet = book.create_sheet(_sheet_title(title, used))
            sheet.append([safe_cell(h) for h in header])
            for cell in sheet[1]:
                cell.font = bold
            for row in rows:
                sheet.append([_cell(value) for value in row])
            sheet.column_dimensions["A"].width = 40
        for chart in report.all_charts:
            sheet = book.create_sheet(_sheet_title(chart.title, used))
            heading = _("Day") if _is_dated(chart) else _("Name")
            unit = f" ({chart.unit})" if chart.unit else ""
            sheet.append(
                [safe_cell(f"{h}{unit}" if i else h) for i, h in enumerate(chart.header(heading))]
            )
            for cell in sheet[1]:
                cell.font = bold
            for index, label in enumerate(chart.labels):
                values = [_number(series.values[index]) for series in chart.series]
                sheet.append([_label_cell(label), *values])
            sheet.column_dimensions["A"].width = 24
        buffer = io.BytesIO()
        book.save(buffer)
    return buffer.getvalue()


def _is_dated(chart: Chart) -> bool:
    """Whether the chart's labels are days (a time series) rather than names."""
    if not chart.labels:
        return False
    try:
        date.fromisoformat(chart.labels[0])
    except ValueError:
        return False
    return True


# --- CSV -------------------------------------------------------------------------------------

CSV_HEADER = ["section", "item", "series", "value", "unit"]


def _plain(value: Number | date) -> str:
    if value is None:
        return ""
    if isinstance(value, date):
        return value.isoformat()
    return str(value)


def csv_rows(report: Report) -> Iterator[list[object]]:
    """The long CSV's rows after the header: ``section`` and ``series`` are stable English
    keys for machines; ``item`` is the thing measured (a KPI key, a goal, a day, a name)."""
    yield ["report", "organisation", "", report.organisation.name, ""]
    yield ["report", "period", "first", report.period.first.isoformat(), ""]
    yield ["report", "period", "last", report.period.last.isoformat(), ""]
    yield ["report", "previous_period", "first", report.previous.first.isoformat(), ""]
    yield ["report", "previous_period", "last", report.previous.last.isoformat(), ""]
    yield ["report", "language", "", report.language, ""]
    for section, figures in (("kpi", report.figures), ("inbox", report.inbox)):
        for f in figures:
            yield [section, f.key, "period", _plain(f.value), f.unit]
            yield [section, f.key, "previous", _plain(f.previous), f.unit]
    for row in report.goals:
        item = f"{row.goal.metric} · {goal_scope(row)} · {row.goal.starts_on}–{row.goal.ends_on}"
        yield ["goal", item, "target", _plain(row.goal.target), ""]
        yield ["goal", item, "current", _plain(row.value), ""]
        yield ["goal", item, "progress", _plain(row.progress), "%"]
    for index, post in enumerate(report.top_posts, start=1):
        item = f"{index}. {post.channel}: {post.text}"
        yield ["top_post", item, "engagement", _plain(post.engagement), ""]
        yield ["top_post", item, "engagement_rate", _plain(post.rate), "%"]
    for resolved in report.resolved:
        yield [
            "resolved",
            resolved.tracking_number,
            "working_days",
            _plain(resolved.working_days),
            "",
        ]
        yield [
            "resolved",
            resolved.tracking_number,
            "within_deadline",
            int(resolved.within_deadline),
            "",
        ]
    for pillar in report.pillars:
        yield ["pillar", pillar.name, "posts", pillar.posts, ""]
        yield ["pillar", pillar.name, "share", _plain(pillar.share), "%"]
        yield ["pillar", pillar.name, "target", pillar.target, "%"]
    for chart in report.all_charts:
        for series in chart.series:
            for label, value in zip(chart.labels, series.values, strict=True):
                yield [f"chart:{chart.key}", label, series.name, _plain(value), chart.unit]


def csv(report: Report) -> bytes:
    """The whole report as one long CSV (UTF-8 with a byte-order mark, so that spreadsheet
    programs read the Indonesian text right)."""
    buffer = io.StringIO()
    writer = csvlib.writer(buffer, lineterminator="\r\n")
    with translation.override(report.language):
        writer.writerow(CSV_HEADER)
        for row in csv_rows(report):
            writer.writerow([safe_cell(cell) for cell in row])
    return ("\ufeff" + buffer.getvalue()).encode("utf-8")


# --- monthly e-mail --------------------------------------------------------------------------


def month_reported(today: date) -> Period:
    """The month whose report goes out in ``today``'s month: the one before."""
    return last_month(today)


def first_working_day(org: Organisation, today: date) -> date:
    """The first working day of ``today``'s month on the organisation's calendar: weekends,
    national holidays and collective leave (*cuti bersama*) skipped."""
    calendar = WorkCalendar(org.time_zone)
    first = today.replace(day=1)
    return first if calendar.is_working_day(first) else calendar.next_working_day(first)


def next_delivery(org: Organisation, today: date) -> date:
    """The next day a monthly report goes out: this month's first working day if it is
    still to come, else next month's."""
    this_month = first_working_day(org, today)
    if today < this_month:
        return this_month
    following = (today.replace(day=28) + timedelta(days=4)).replace(day=1)
    return first_working_day(org, following)


def delivery_due(org: Organisation, today: date) -> bool:
    """Whether the month's report may go out on the local day ``today``: from the first
    working day on. Later days of the month catch up a delivery a stopped worker missed;
    ``ReportSchedule.last_sent_month`` keeps it to once."""
    return today >= first_working_day(org, today)


def report_emails(
    schedule: ReportSchedule, period: Period, addresses: list[str]
) -> list[EmailMessage]:
    """One e-mail per recipient (nobody sees the others' addresses) with the report as PDF
    and XLSX, subject and text in the schedule's language."""
    org = schedule.organisation
    report = build(org, period, language=schedule.language)
    attachments = [
        (report.file_name("pdf"), pdf(report), "application/pdf"),
        (
            report.file_name("xlsx"),
            xlsx(report),
            "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        ),
    ]
    with translation.override(schedule.language):
        label = period_label(period)
        subject = _("[humas] %(organisation)s report for %(period)s") % {
            "organisation": org.name,
            "period": label,
        }
        body = _(
            "The monthly social media report of %(organisation)s for %(period)s is attached "
            "as PDF and as a spreadsheet (XLSX).\n\n"
            "You receive it because an administrator of %(organisation)s added you to the "
            "monthly report in humas: %(url)s"
        ) % {
            "organisation": org.name,
            "period": label,
            "url": settings.SITE_URL + reverse("analytics:report_schedules"),
        }
    messages = []
    for address in addresses:
        message = EmailMessage(subject, body, to=[address])
        for name, content, mime in attachments:
            message.attach(name, content, mime)
        messages.append(message)
    return messages
