"""The report page and its downloads: who may see them, the period and language chosen,
and citizens' or editors' text shown as text."""

from __future__ import annotations

import csv
import io
from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

import openpyxl
import pypdfium2
import pytest
from django.urls import reverse

from humas.accounts.testing import make_member, sign_in
from humas.analytics.models import AccountSnapshot, PostSnapshot
from humas.channels.models import ChannelPost

pytestmark = pytest.mark.django_db

PAGE = reverse("analytics:report")
WIB = ZoneInfo("Asia/Jakarta")


def download(fmt: str) -> str:
    return reverse("analytics:report_download", args=[fmt])


@pytest.fixture
def a_post(org, bluesky):
    AccountSnapshot.objects.create(
        organisation=org,
        channel=bluesky,
        day=date(2026, 11, 1),
        taken_at=datetime(2026, 11, 1, 3, tzinfo=UTC),
        followers=200,
    )
    post = ChannelPost.objects.create(
        organisation=org,
        channel=bluesky,
        external_id="x1",
        published_at=datetime(2026, 11, 4, 10, tzinfo=WIB),
        text='<img src=x onerror="alert(1)"> Vaksin <script>alert(2)</script>',
    )
    PostSnapshot.objects.create(
        organisation=org, post=post, age_hours=24, taken_at=post.published_at, likes=10
    )
    return post


def test_an_analyst_previews_a_month_with_its_download_links(client, analyst, a_post):
    sign_in(client, analyst)
    response = client.get(PAGE, {"bulan": "2026-11", "bahasa": "en"})
    assert response.status_code == 200
    page = response.content.decode()
    assert 'data-testid="report-org">Kota Satu<' in page
    assert "November 2026" in page
    assert f"{download('pdf')}?bulan=2026-11&amp;bahasa=en" in page
    assert "<svg" in page  # the charts are drawn on the server
    # Only administrators set up the monthly e-mail.
    assert reverse("analytics:report_schedules") not in page


def test_post_text_is_escaped_on_the_page(client, analyst, a_post):
    sign_in(client, analyst)
    page = client.get(PAGE, {"bulan": "2026-11", "bahasa": "en"}).content.decode()
    assert "<script>alert(2)" not in page
    assert "<img src=x" not in page
    assert "&lt;script&gt;alert(2)&lt;/script&gt;" in page


def test_the_default_is_last_month(client, analyst, monkeypatch):
    from humas.analytics import views_reports

    monkeypatch.setattr(views_reports.periods, "today_in", lambda org: date(2026, 12, 9))
    sign_in(client, analyst)
    page = client.get(PAGE, {"bahasa": "en"}).content.decode()
    assert 'data-testid="report-period">November 2026<' in page


def test_a_range_of_days_is_reported(client, analyst):
    sign_in(client, analyst)
    page = client.get(PAGE, {"dari": "2026-11-10", "sampai": "2026-11-16", "bahasa": "en"})
    assert "10 November 2026 – 16 November 2026" in page.content.decode()


def test_a_period_that_cannot_be_read_is_explained(client, analyst):
    sign_in(client, analyst)
    page = client.get(PAGE, {"dari": "2026-11-16", "sampai": "2026-11-10", "bahasa": "en"})
    assert page.status_code == 200
    assert "The end date is before the start date." in page.content.decode()
    bad = client.get(download("csv"), {"bulan": "2026-13"})
    assert bad.status_code == 400


def test_the_report_language_is_chosen_apart_from_the_interface(client, analyst):
    sign_in(client, analyst)
    page = client.get(PAGE, {"bulan": "2026-11", "bahasa": "id"}).content.decode()
    body = page[page.index('data-testid="report"') :]
    assert "Sasaran" in body and "Goals" not in body


def test_the_pdf_download_is_a_pdf_of_the_period(client, analyst, a_post):
    sign_in(client, analyst)
    response = client.get(download("pdf"), {"bulan": "2026-11", "bahasa": "en"})
    assert response.status_code == 200
    assert response["Content-Type"] == "application/pdf"
    assert 'filename="laporan-kota-satu-2026-11.pdf"' in response["Content-Disposition"]
    document = pypdfium2.PdfDocument(response.content)
    assert "November 2026" in document[0].get_textpage().get_text_range()


def test_the_xlsx_and_csv_downloads_open(client, analyst, a_post):
    sign_in(client, analyst)
    xlsx = client.get(download("xlsx"), {"bulan": "2026-11", "bahasa": "en"})
    book = openpyxl.load_workbook(io.BytesIO(xlsx.content))
    assert "Key figures" in book.sheetnames
    response = client.get(download("csv"), {"bulan": "2026-11", "bahasa": "en"})
    rows = list(csv.DictReader(io.StringIO(response.content.decode("utf-8-sig"))))
    assert {"section": "kpi", "item": "posts", "series": "period", "value": "1", "unit": ""} in rows


def test_an_unknown_format_is_not_found(client, analyst):
    sign_in(client, analyst)
    assert client.get(download("docx")).status_code == 404


def test_a_role_without_reports_view_is_refused(client, org):
    responder = make_member(org, "responder@satu.go.id", "responder")
    sign_in(client, responder)
    assert client.get(PAGE).status_code == 403
    assert client.get(download("csv")).status_code == 403


def test_another_organisations_member_sees_only_their_own_figures(client, other_org, a_post):
    outsider = make_member(other_org, "analyst@dua.go.id", "analyst")
    sign_in(client, outsider)
    response = client.get(download("csv"), {"bulan": "2026-11", "bahasa": "en"})
    rows = list(csv.DictReader(io.StringIO(response.content.decode("utf-8-sig"))))
    values = {(r["section"], r["item"], r["series"]): r["value"] for r in rows}
    assert values[("report", "organisation", "")] == "Kota Dua"
    assert values[("kpi", "posts", "period")] == "0"


def test_when_pdfs_cannot_be_made_the_page_says_why(client, analyst, monkeypatch):
    from humas.analytics import reports

    def no_pango(report):
        raise reports.ReportError("PDF reports cannot be made on this server")

    monkeypatch.setattr(reports, "pdf", no_pango)
    sign_in(client, analyst)
    response = client.get(download("pdf"), {"bulan": "2026-11", "bahasa": "en"}, follow=True)
    assert response.redirect_chain[-1][0] == f"{PAGE}?bulan=2026-11&bahasa=en"
    assert "PDF reports cannot be made on this server" in response.content.decode()
