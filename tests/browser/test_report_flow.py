"""The monthly report in a browser: an analyst reaches Reports from the analytics navigation,
previews last month in Indonesian and in English, and downloads the PDF, the XLSX and the
CSV, which open and hold the same numbers (the PDF's first page is rendered to an image);
an administrator then sets up the monthly e-mail of the report for the analyst.

The organisation keeps WITA (UTC+8): a post made just after local midnight on the month's
first day is still the previous month in UTC, and must be counted in the report.
"""

from __future__ import annotations

import csv
import io
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from pathlib import Path

import numpy
import openpyxl
import pypdfium2
import pytest
from django.core.cache import cache

from humas.accounts.audit import Actor
from humas.accounts.roles import Role
from humas.accounts.testing import make_member, make_org
from humas.analytics import actions, kpis, periods
from humas.analytics.models import AccountSnapshot, GoalMetric, PostSnapshot, ReportSchedule
from humas.channels.models import ChannelPost
from humas.inbox.models import Conversation, Message
from humas.inbox.testing import make_conversation
from humas.publishing.testing import make_channel

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

PASSWORD = "ombak-tenang-pulau-tiga"
ORG_NAME = "Pemerintah Kota Laporan"
# Followers on the month's first and last day: a growth no other figure of the report has.
FOLLOWERS_FIRST, FOLLOWERS_LAST = 4000, 4321
GROWTH = FOLLOWERS_LAST - FOLLOWERS_FIRST
GOAL_TARGET = 500
# The charts' second colour (svg.PALETTE[1], the previous period's line): only the charts
# draw with it; the page's rules and headings use the first one.
ORANGE = (0xD9, 0x82, 0x2B)
INDONESIAN_MONTHS = (
    "Januari",
    "Februari",
    "Maret",
    "April",
    "Mei",
    "Juni",
    "Juli",
    "Agustus",
    "September",
    "Oktober",
    "November",
    "Desember",
)
ENGLISH_MONTHS = (
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
)


def snapshot_followers(channel, day: date, count: int) -> None:
    AccountSnapshot.objects.create(
        organisation=channel.organisation,
        channel=channel,
        day=day,
        taken_at=datetime.combine(day, time(12), tzinfo=kpis.zone_of(channel.organisation)),
        followers=count,
    )


def publish(channel, at: datetime, text: str, likes: int) -> None:
    post = ChannelPost.objects.create(
        organisation=channel.organisation,
        channel=channel,
        external_id=f"lap-{at.isoformat()}",
        published_at=at,
        text=text,
    )
    PostSnapshot.objects.create(
        organisation=channel.organisation,
        post=post,
        age_hours=24,
        taken_at=at + timedelta(hours=24),
        likes=likes,
        reposts=2,
        replies=1,
    )


def citizen_writes(channel, opened: datetime, answered_after: timedelta, author: str) -> None:
    made = make_conversation(channel, author=author)
    Message.objects.filter(conversation=made).update(created_at=opened)
    Conversation.objects.filter(pk=made.pk).update(
        opened_at=opened,
        last_message_at=opened,
        responded_at=opened + answered_after,
        sentiment="neutral",
        category="information_request",
    )


def last_month_data(org, channel, admin) -> periods.Period:
    """Last month (the organisation's days): posts, follower counts, a goal, conversations;
    the month before it has one post so that the report has something to compare with."""
    zone = kpis.zone_of(org)
    month = periods.last_month(periods.today_in(org))

    def local(day: date, hour: int, minute: int = 0) -> datetime:
        return datetime.combine(day, time(hour, minute), tzinfo=zone)

    snapshot_followers(channel, month.first, FOLLOWERS_FIRST)
    snapshot_followers(channel, month.first + timedelta(days=14), 4100)
    snapshot_followers(channel, month.last, FOLLOWERS_LAST)
    # 00:30 WITA on the first is 16:30 UTC the day before: counted in this month.
    publish(channel, local(month.first, 0, 30), "Jadwal posyandu bulan ini", likes=30)
    for offset, likes in ((3, 12), (9, 25), (16, 40), (23, 8)):
        publish(channel, local(month.first + timedelta(days=offset), 9), "Info layanan", likes)
    publish(channel, local(month.first - timedelta(days=5), 10), "Bulan sebelumnya", likes=5)
    actions.create_goal(
        org,
        metric=GoalMetric.FOLLOWER_GROWTH,
        target=Decimal(GOAL_TARGET),
        starts_on=month.first,
        ends_on=month.last,
        by=Actor(user=admin),
    )
    for number, minutes in enumerate((15, 45, 90)):
        citizen_writes(
            channel,
            local(month.first + timedelta(days=2 + number), 8),
            timedelta(minutes=minutes),
            author=f"warga{number}",
        )
    return month


def sign_in(page, email: str) -> None:
    page.goto("/masuk/")
    page.locator("input[name=username]").fill(email)
    page.locator("input[name=password]").fill(PASSWORD)
    page.locator("main form[method=post] .actions button[type=submit]").click()
    page.wait_for_selector("[data-testid=home-title]")


def watch_console(page) -> list[str]:
    seen: list[str] = []
    page.on("console", lambda message: seen.append(message.text))
    page.on("pageerror", lambda error: seen.append(f"page error: {error}"))
    return seen


def show(page, month: periods.Period, language: str) -> None:
    form = page.locator("[data-testid=report-month-form]")
    form.locator("input[name=bulan]").fill(f"{month.first:%Y-%m}")
    form.locator("select[name=bahasa]").select_option(language)
    form.locator("button[type=submit]").click()
    page.wait_for_url(f"**bahasa={language}**")


def downloaded(page, testid: str) -> tuple[str, bytes]:
    with page.expect_download() as info:
        page.locator(f"[data-testid={testid}]").click()
    download = info.value
    return download.suggested_filename, Path(download.path()).read_bytes()


def orange_pixels(image: numpy.ndarray) -> int:
    red, green, blue = (image[..., channel] for channel in range(3))
    near = (
        (abs(red - ORANGE[0]) < 40) & (abs(green - ORANGE[1]) < 40) & (abs(blue - ORANGE[2]) < 40)
    )
    return int(near.sum())


def test_an_analyst_previews_and_downloads_last_months_report_and_an_admin_mails_it(
    page, browser, live_server, artifacts
):
    cache.clear()  # the dashboards reuse their numbers for a minute, per process
    org = make_org(ORG_NAME, time_zone="Asia/Makassar")
    analyst = make_member(org, "analis@laporan.go.id", Role.ANALYST, password=PASSWORD)
    admin = make_member(org, "admin@laporan.go.id", Role.ADMIN, password=PASSWORD)
    for user in (analyst, admin):
        user.language = "en"
        user.save()
    channel = make_channel(org, "kominfo.bsky.social", network="bluesky")
    month = last_month_data(org, channel, admin)
    console = watch_console(page)

    # 1. From the main navigation to the dashboard, then the analytics navigation to Reports.
    sign_in(page, analyst.email)
    page.locator("[data-testid=dashboard-link]").click()
    page.locator("[data-testid=analytics-nav] [data-testid=reports-link]").click()
    page.wait_for_selector("[data-testid=report-month-form]")

    # 2. Last month in Indonesian: the headings, the figure and the goal on the page.
    show(page, month, "id")
    report = page.locator("[data-testid=report]")
    assert report.get_attribute("lang") == "id"
    assert page.locator("[data-testid=report-org]").inner_text() == ORG_NAME
    period_text = page.locator("[data-testid=report-period]").inner_text()
    assert period_text == f"{INDONESIAN_MONTHS[month.first.month - 1]} {month.first.year}"
    assert report.get_by_role("heading", name="Sasaran").count() == 1
    growth_row = page.locator("[data-testid=report-figures] tr[data-figure=follower_growth]")
    assert growth_row.locator("td").nth(1).inner_text() == str(GROWTH)
    posts_row = page.locator("[data-testid=report-figures] tr[data-figure=posts]")
    assert posts_row.locator("td").nth(1).inner_text() == "5"  # the 00:30 WITA post counts
    goal = page.locator("[data-testid=report-goals] tbody tr")
    assert goal.count() == 1
    goal_cells = goal.locator("td").all_inner_texts()
    assert goal_cells[3] == str(GROWTH)
    assert goal_cells[4] == str(GOAL_TARGET)
    assert goal_cells[5].startswith("64")  # 321 of 500
    inbox_row = page.locator("[data-testid=report-inbox] tr[data-figure=conversations_opened]")
    assert inbox_row.locator("td").nth(1).inner_text() == "3"
    page.screenshot(path=str(artifacts / "report-preview-id.png"), full_page=True)

    # 3. The downloads, in the report's language (Indonesian).
    name, data = downloaded(page, "download-pdf")
    assert name == f"laporan-{org.slug}-{month.first:%Y-%m}.pdf"
    (artifacts / "report-id.pdf").write_bytes(data)
    document = pypdfium2.PdfDocument(data)
    assert len(document) >= 1
    texts = [document[index].get_textpage().get_text_range() for index in range(len(document))]
    first = numpy.asarray(document[0].render(scale=1).to_pil().convert("RGB"), dtype=numpy.int32)
    # Not blank: plenty of dark pixels for the text and the tables.
    assert int((first.sum(axis=2) < 300).sum()) > 2000
    assert ORG_NAME in texts[0]
    assert period_text in texts[0]
    assert "Pertumbuhan pengikut" in texts[0] and str(GROWTH) in texts[0]
    # The charts are drawn as SVG: the previous period's colour is on the page with the
    # first chart (the first page, as the report is laid out now).
    (chart_page,) = [i for i, text in enumerate(texts) if "Keterlibatan per hari terbit" in text]
    image = document[chart_page].render(scale=1).to_pil().convert("RGB")
    assert orange_pixels(numpy.asarray(image, dtype=numpy.int32)) > 50
    document.close()

    name, data = downloaded(page, "download-xlsx")
    assert name.endswith(".xlsx")
    (artifacts / "report-id.xlsx").write_bytes(data)
    book = openpyxl.load_workbook(io.BytesIO(data))
    figures = {row[0]: row[1:] for row in book["Angka utama"].iter_rows(values_only=True)}
    assert figures["Pertumbuhan pengikut"][0] == GROWTH
    assert isinstance(figures["Pertumbuhan pengikut"][0], int)
    assert figures["Unggahan terbit"][:2] == (5, 1)

    name, data = downloaded(page, "download-csv")
    assert name.endswith(".csv")
    table = list(csv.DictReader(io.StringIO(data.decode("utf-8-sig"))))
    values = {(row["section"], row["item"], row["series"]): row["value"] for row in table}
    assert values[("report", "organisation", "")] == ORG_NAME
    assert values[("kpi", "follower_growth", "period")] == str(GROWTH)
    assert values[("kpi", "posts", "period")] == "5"
    assert values[("kpi", "posts", "previous")] == "1"
    assert values[("inbox", "conversations_opened", "period")] == "3"

    # 4. The same month in English.
    english_month = f"{ENGLISH_MONTHS[month.first.month - 1]} {month.first.year}"
    show(page, month, "en")
    report = page.locator("[data-testid=report]")
    assert report.get_attribute("lang") == "en"
    assert page.locator("[data-testid=report-period]").inner_text() == english_month
    assert report.get_by_role("heading", name="Key figures").count() == 1
    assert report.get_by_role("heading", name="Goals").count() == 1
    assert "Sasaran" not in report.inner_text()
    name, data = downloaded(page, "download-pdf")
    document = pypdfium2.PdfDocument(data)
    english = " ".join(page_.get_textpage().get_text_range() for page_ in document)
    document.close()
    assert "Follower growth" in english and english_month in english
    assert not [m for m in console if "Content Security Policy" in m]
    assert not [m for m in console if "rror" in m]

    # 5. An administrator adds the monthly e-mail of the report for the analyst.
    context = browser.new_context(base_url=live_server.url, locale="en-US")
    admin_page = context.new_page()
    admin_console = watch_console(admin_page)
    sign_in(admin_page, admin.email)
    admin_page.locator("[data-testid=dashboard-link]").click()
    admin_page.locator("[data-testid=analytics-nav] [data-testid=reports-link]").click()
    admin_page.locator("[data-testid=report-schedules-link]").click()
    form = admin_page.locator("[data-testid=report-schedule-form]")
    form.locator(f"input[name=recipients][value='{analyst.pk}']").check()
    form.locator("select[name=language]").select_option("id")
    form.locator("[data-testid=report-schedule-create]").click()
    listed = admin_page.locator(
        "[data-testid=report-schedule-table] tbody tr", has_text=analyst.email
    )
    listed.wait_for()
    schedule = ReportSchedule.objects.get(organisation=org)
    assert listed.get_attribute("data-testid") == f"report-schedule-{schedule.pk}"
    assert list(schedule.recipients.all()) == [analyst]
    assert schedule.language == "id" and schedule.enabled
    admin_page.screenshot(path=str(artifacts / "report-schedules.png"), full_page=True)
    context.close()
    assert not [m for m in admin_console if "Content Security Policy" in m]
    assert not [m for m in admin_console if "rror" in m]
