"""The report in its four forms: the PDF's pages (rendered to images and read back as text),
the XLSX's cells, the long CSV, the SVG charts; the same numbers as the KPI functions."""

from __future__ import annotations

import csv
import io
from datetime import date, datetime
from decimal import Decimal
from itertools import count
from zoneinfo import ZoneInfo

import numpy
import openpyxl
import pypdfium2
import pytest

from humas.accounts.audit import Actor
from humas.analytics import actions, kpis, reports, svg
from humas.analytics.charts import Chart, Series
from humas.analytics.models import GoalMetric
from humas.analytics.periods import Period, month
from humas.analytics.testing import make_published, record_followers

pytestmark = pytest.mark.django_db

WIB = ZoneInfo("Asia/Jakarta")
NOVEMBER = month(2026, 11)
_ids = count(1)


def wib(day: int, hour: int = 9, month_: int = 11) -> datetime:
    return datetime(2026, month_, day, hour, tzinfo=WIB)


def published(channel, at: datetime, text: str = "Imunisasi gratis di puskesmas", **counts):
    return make_published(
        channel, at, text=text, url=f"https://bsky.app/profile/dinkes/post/{next(_ids)}", **counts
    )


def followers(channel, day: date, n: int) -> None:
    record_followers(channel, day, n)


@pytest.fixture
def november_data(org, editor, bluesky):
    """A month with posts, follower counts and a goal; October for the comparison."""
    followers(bluesky, date(2026, 10, 1), 900)
    followers(bluesky, date(2026, 11, 1), 1000)
    followers(bluesky, date(2026, 11, 30), 1250)
    for day in range(2, 30, 3):
        published(bluesky, wib(day), likes=day, reposts=2, replies=1, quotes=0)
    published(bluesky, wib(15, month_=10), likes=4, reposts=0, replies=0, quotes=0)
    actions.create_goal(
        org,
        metric=GoalMetric.FOLLOWER_GROWTH,
        target=Decimal(500),
        starts_on=date(2026, 11, 1),
        ends_on=date(2026, 11, 30),
        by=Actor(user=editor),
    )
    return org


def line_chart() -> Chart:
    return Chart(
        key="engagement-per-day",
        title="Engagement per day",
        kind="line",
        labels=[d.isoformat() for d in NOVEMBER.day_list()[:6]],
        series=[Series("Bluesky", [3, 5, None, 8, 2, 6]), Series("Mastodon", [1, 1, 2, 2, 3, 3])],
        unit="%",
    )


def pdf_pages(data: bytes) -> list[tuple[str, numpy.ndarray]]:
    """(text, RGB pixels as a height × width × 3 array) of each page."""
    document = pypdfium2.PdfDocument(data)
    pages = []
    for page in document:
        text = page.get_textpage().get_text_range()
        image = page.render(scale=1).to_pil().convert("RGB")
        pages.append((text, numpy.asarray(image, dtype=numpy.int32)))
    return pages


# --- the numbers -----------------------------------------------------------------------------


def test_the_key_figures_are_those_of_the_kpi_functions(november_data):
    org = november_data
    report = reports.build(org, NOVEMBER, language="en")
    figures = {figure.key: figure for figure in report.figures}
    start, end = NOVEMBER.bounds(org)
    before = NOVEMBER.previous().bounds(org)
    assert figures["posts"].value == 10
    assert figures["posts"].previous == 1
    assert figures["engagement_rate"].value == kpis.engagement_rate(org, start, end)
    assert figures["engagement_rate"].previous == kpis.engagement_rate(org, *before)
    assert figures["follower_growth"].value == kpis.follower_growth(org, start, end) == 250
    assert [row.value for row in report.goals] == [Decimal(250)]
    assert report.goals[0].progress == 50


def test_a_report_of_a_range_compares_with_as_many_days_before(org):
    period = Period(date(2026, 11, 10), date(2026, 11, 16))
    report = reports.build(org, period, language="en")
    assert (report.previous.first, report.previous.last) == (date(2026, 11, 3), date(2026, 11, 9))
    assert report.file_name("pdf") == "laporan-kota-satu-2026-11-10_2026-11-16.pdf"
    assert reports.build(org, NOVEMBER, language="en").file_name("csv") == (
        "laporan-kota-satu-2026-11.csv"
    )


# --- PDF -------------------------------------------------------------------------------------


def test_the_pdf_shows_the_organisation_period_figures_and_goals(november_data):
    org = november_data
    report = reports.build(org, NOVEMBER, language="en")
    pages = pdf_pages(reports.pdf(report))
    text = "\n".join(page_text for page_text, _image in pages)
    assert "Kota Satu" in text
    assert "November 2026" in text
    assert "Key figures" in text
    rate = kpis.engagement_rate(org, *NOVEMBER.bounds(org))
    assert f"{rate} %" in text
    assert "Follower growth" in text and "250" in text
    assert "500" in text  # the goal's target
    # Every page carries the organisation and the period in its header, and its number.
    assert all("Kota Satu" in page_text and "November 2026" in page_text for page_text, _ in pages)
    # Numbered in order, "n / total" on each: the page count the PDF reports is the real one.
    for number, (page_text, _image) in enumerate(pages, start=1):
        assert f"{number} / {len(pages)}" in page_text


def test_the_pdf_pages_are_drawn_and_the_chart_has_ink(november_data):
    report = reports.build(november_data, NOVEMBER, language="en")
    report.charts, report.inbox_charts = [line_chart()], []
    pages = pdf_pages(reports.pdf(report))
    # Not blank: plenty of dark pixels for the text and the rules.
    first = pages[0][1]
    assert int((first.sum(axis=2) < 300).sum()) > 2000
    (chart_page,) = [image for text, image in pages if "Engagement per day" in text]
    # The first series' colour (#1f5fa8): only a drawn line can put it on the page.
    red, green, blue = chart_page[..., 0], chart_page[..., 1], chart_page[..., 2]
    assert int(((blue > 120) & (red < 90) & (green < 140)).sum()) > 200


def test_the_pdf_is_in_the_reports_language(november_data):
    indonesian = reports.pdf(reports.build(november_data, NOVEMBER, language="id"))
    english = reports.pdf(reports.build(november_data, NOVEMBER, language="en"))
    id_text = " ".join(text for text, _ in pdf_pages(indonesian))
    en_text = " ".join(text for text, _ in pdf_pages(english))
    # Headings whose Indonesian is in the catalogue already (the report's own new ones get
    # theirs when the catalogue is next updated).
    assert "Sasaran" in id_text and "Pertumbuhan pengikut" in id_text
    assert "Goals" not in id_text and "Follower growth" not in id_text
    assert "Goals" in en_text and "Follower growth" in en_text and "Sasaran" not in en_text


def test_html_in_a_posts_text_is_shown_as_text_not_run(org, bluesky):
    followers(bluesky, date(2026, 11, 1), 100)
    published(bluesky, wib(5), text="<script>alert(1)</script><b>tebal</b>", likes=9)
    report = reports.build(org, NOVEMBER, language="en")
    html = reports.render_html(report, document=True)
    assert "<script>alert(1)" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    text = " ".join(page_text for page_text, _ in pdf_pages(reports.pdf(report)))
    # (Table cells wrap long words: compare without the line breaks.)
    assert "<script>alert(1)</script><b>tebal</b>" in "".join(text.split())


def test_without_pango_the_pdf_says_why_instead_of_a_traceback(org, monkeypatch):
    import builtins

    real_import = builtins.__import__

    def no_pango(name, *args, **kwargs):
        if name == "weasyprint":
            raise OSError("cannot load library 'libpango-1.0-0'")
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_pango)
    report = reports.build(org, NOVEMBER, language="en")
    with pytest.raises(reports.ReportError, match="Pango"):
        reports.pdf(report)


# --- XLSX ------------------------------------------------------------------------------------


def test_the_xlsx_has_a_sheet_per_section_and_chart_with_real_numbers(november_data):
    org = november_data
    report = reports.build(org, NOVEMBER, language="en")
    book = openpyxl.load_workbook(io.BytesIO(reports.xlsx(report)))
    names = book.sheetnames
    assert names[:7] == [
        "Report",
        "Key figures",
        "Goals",
        "Top posts",
        "Inbox",
        "Complaints resolved",
        "Pillar mix",
    ]
    assert len(names) == 7 + len(report.all_charts)
    figures = {
        row[0]: row[1:] for row in book["Key figures"].iter_rows(min_row=2, values_only=True)
    }
    rate = kpis.engagement_rate(org, *NOVEMBER.bounds(org))
    assert rate is not None
    assert figures["Engagement rate"][0] == pytest.approx(float(rate))
    assert isinstance(figures["Posts published"][0], int) and figures["Posts published"][0] == 10
    assert figures["Follower growth"][0] == kpis.follower_growth(org, *NOVEMBER.bounds(org))
    goal = next(book["Goals"].iter_rows(min_row=2, values_only=True))
    assert goal[2].date() == date(2026, 11, 1)  # a date cell, not text
    assert goal[4:7] == (500, 250, 50)
    about = dict(book["Report"].iter_rows(values_only=True))
    assert about["Organisation"] == "Kota Satu"
    assert about["From"].date() == date(2026, 11, 1)


def test_a_charts_sheet_has_dates_and_numbers_with_gaps_left_empty(org):
    report = reports.build(org, NOVEMBER, language="en")
    report.charts, report.inbox_charts = [line_chart()], []
    book = openpyxl.load_workbook(io.BytesIO(reports.xlsx(report)))
    rows = list(book["Engagement per day"].iter_rows(values_only=True))
    assert rows[0] == ("Day", "Bluesky (%)", "Mastodon (%)")
    assert (rows[1][0].date(), *rows[1][1:]) == (date(2026, 11, 1), 3, 1)
    assert (rows[3][0].date(), *rows[3][1:]) == (date(2026, 11, 3), None, 2)


def test_text_that_looks_like_a_formula_is_not_one_in_the_xlsx(org, bluesky):
    followers(bluesky, date(2026, 11, 1), 100)
    published(bluesky, wib(5), text='=HYPERLINK("http://evil")', likes=9)
    book = openpyxl.load_workbook(
        io.BytesIO(reports.xlsx(reports.build(org, NOVEMBER, language="en")))
    )
    cell = book["Top posts"]["A2"]
    assert cell.data_type == "s"
    assert cell.value.startswith("'=")


# --- CSV -------------------------------------------------------------------------------------


def read_csv(data: bytes) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(data.decode("utf-8-sig"))))


def test_the_csv_is_one_long_table_matching_the_report(november_data):
    org = november_data
    report = reports.build(org, NOVEMBER, language="en")
    rows = read_csv(reports.csv(report))
    assert list(rows[0]) == ["section", "item", "series", "value", "unit"]

    def value(section: str, item: str, series: str) -> str:
        (found,) = [
            r["value"]
            for r in rows
            if (r["section"], r["item"], r["series"]) == (section, item, series)
        ]
        return found

    assert value("report", "organisation", "") == "Kota Satu"
    assert value("report", "period", "first") == "2026-11-01"
    assert Decimal(value("kpi", "engagement_rate", "period")) == kpis.engagement_rate(
        org, *NOVEMBER.bounds(org)
    )
    assert value("kpi", "posts", "period") == "10"
    assert value("kpi", "posts", "previous") == "1"
    goal_rows = [r for r in rows if r["section"] == "goal"]
    assert {r["series"]: r["value"] for r in goal_rows} == {
        "target": "500.00",
        "current": "250",
        "progress": "50",
    }
    chart_rows = [r for r in rows if r["section"].startswith("chart:")]
    expected = sum(len(c.labels) * len(c.series) for c in report.all_charts)
    assert len(chart_rows) == expected


def test_a_gap_in_a_chart_is_an_empty_value_in_the_csv(org):
    report = reports.build(org, NOVEMBER, language="en")
    report.charts, report.inbox_charts = [line_chart()], []
    rows = [r for r in read_csv(reports.csv(report)) if r["section"] == "chart:engagement-per-day"]
    assert [r["value"] for r in rows if r["series"] == "Bluesky"] == ["3", "5", "", "8", "2", "6"]
    assert rows[2]["item"] == "2026-11-03"


# --- SVG -------------------------------------------------------------------------------------


def test_a_line_with_a_gap_is_drawn_in_two_pieces():
    drawing = str(svg.render(line_chart()))
    assert drawing.startswith("<svg")
    # Bluesky: 3, 5 | gap | 8, 2, 6 → two polylines; Mastodon: one.
    assert drawing.count("<polyline") == 3
    assert ">%<" in drawing  # the unit on the axis


def test_bars_start_at_zero_and_names_are_escaped():
    chart = Chart(
        key="by-unit",
        title="By unit",
        kind="bar",
        labels=["<b>Dinas</b>", "Dishub"],
        series=[Series("Conversations", [4, 0])],
    )
    drawing = str(svg.render(chart))
    assert "<b>" not in drawing
    assert "&lt;b&gt;Dinas&lt;/b&gt;" in drawing
    assert drawing.count("<rect") == 2
    assert ">0<" in drawing  # the axis starts at 0


def test_an_empty_chart_draws_nothing():
    chart = Chart(
        key="x", title="X", kind="line", labels=["2026-11-01"], series=[Series("a", [None])]
    )
    assert svg.render(chart) == ""


def test_round_ticks():
    assert svg.nice_step(100) == 50
    assert svg.nice_step(7) == 2
    assert svg.y_range([3.0, 97.0], from_zero=True) == (0.0, 100.0, 50.0)
    assert svg.y_range([10_010.0, 10_050.0], from_zero=False)[0] > 9_000


def test_making_a_pdf_fetches_nothing(org, monkeypatch, tmp_path):
    secret = tmp_path / "secret.svg"
    secret.write_text('<svg xmlns="http://www.w3.org/2000/svg"><text>RAHASIA</text></svg>')
    report = reports.build(org, NOVEMBER, language="en")
    html = f'<p>x</p><img src="file://{secret}"><img src="http://127.0.0.1:9/a.png">'
    # Straight into the body, as if escaping had failed: the fetcher must still refuse.
    monkeypatch.setattr(reports, "render_html", lambda report, document=False: html)
    text = " ".join(page_text for page_text, _ in pdf_pages(reports.pdf(report)))
    assert "RAHASIA" not in text
