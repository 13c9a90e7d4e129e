"""Importing a content plan from CSV or XLSX, and exporting the calendar."""

from __future__ import annotations

import csv
import io
from datetime import UTC, date, datetime
from typing import Any

import openpyxl
import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from humas.accounts.actions import ActionError
from humas.accounts.audit import Actor
from humas.accounts.models import AuditEntry, Organisation, TimeZoneChoice, User
from humas.channels.models import ChannelAccount
from humas.publishing import bulk
from humas.publishing.models import Campaign, Pillar, Post, PostStatus
from humas.publishing.testing import make_post

HEADER_ID = "judul;teks;tanggal;jam;saluran;pilar;kampanye;tautan"
FUTURE = "2099-03-10"


def csv_bytes(*lines: str, bom: bool = True) -> bytes:
    text = "\r\n".join(lines) + "\r\n"
    return (("\ufeff" if bom else "") + text).encode()


def xlsx_bytes(rows: list[list[Any]]) -> bytes:
    book = openpyxl.Workbook()
    sheet = book.worksheets[0]
    for row in rows:
        sheet.append(row)
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()


def upload(data: bytes, name: str = "rencana.csv") -> SimpleUploadedFile:
    return SimpleUploadedFile(name, data, content_type="application/octet-stream")


@pytest.fixture
def pillar(org: Organisation) -> Pillar:
    return Pillar.objects.create(organisation=org, name="Kesehatan")


@pytest.fixture
def campaign(org: Organisation) -> Campaign:
    return Campaign.objects.create(
        organisation=org,
        name="Bulan Imunisasi",
        slug="imunisasi",
        starts_on=date(2099, 3, 1),
        ends_on=date(2099, 3, 31),
    )


# --- reading ------------------------------------------------------------------------------


def test_a_semicolon_csv_with_a_byte_order_mark_parses(
    org: Organisation, channel: ChannelAccount, pillar: Pillar, campaign: Campaign
) -> None:
    data = csv_bytes(
        HEADER_ID,
        f"Jadwal posyandu;Posyandu buka Sabtu, bawa buku KIA.;{FUTURE};08.30;@pemkot-satu;"
        "kesehatan;imunisasi;https://satu.go.id/posyandu",
    )

    plan = bulk.parse_plan(org, data, filename="rencana.csv")

    assert plan.errors == []
    [row] = plan.rows
    assert row.row == 2
    assert row.title == "Jadwal posyandu"
    assert row.text == "Posyandu buka Sabtu, bawa buku KIA."
    assert row.channels == [channel]
    assert row.pillar == pillar
    assert row.campaign == campaign
    assert row.link == "https://satu.go.id/posyandu"
    # 08:30 in Jakarta (the organisation's zone) is 01:30 UTC.
    assert row.when == datetime(2099, 3, 10, 1, 30, tzinfo=UTC)


def test_a_comma_csv_with_english_headers_and_a_day_first_date_parses(
    org: Organisation, channel: ChannelAccount
) -> None:
    data = csv_bytes(
        "Title,Text,Date,Time,Channels",
        'Info banjir,"Posko dibuka, hubungi 112.",10/03/2099,07:00,fake',
        bom=False,
    )

    plan = bulk.parse_plan(org, data)

    assert plan.errors == []
    assert plan.rows[0].text == "Posko dibuka, hubungi 112."
    assert plan.rows[0].when == datetime(2099, 3, 10, 0, 0, tzinfo=UTC)
    assert plan.rows[0].channels == [channel]


def test_an_xlsx_workbook_made_with_openpyxl_parses(
    org: Organisation, channel: ChannelAccount
) -> None:
    data = xlsx_bytes(
        [
            ["Judul", "Teks", "Tanggal", "Jam", "Saluran"],
            [],
            ["Jadwal posyandu", "Posyandu buka Sabtu.", date(2099, 3, 10), "09:15", "fake"],
        ]
    )

    plan = bulk.parse_plan(org, data, filename="rencana.xlsx")

    assert plan.errors == []
    [row] = plan.rows
    assert row.row == 3  # the blank row still counts, as the spreadsheet shows it
    assert row.when == datetime(2099, 3, 10, 2, 15, tzinfo=UTC)
    assert row.channels == [channel]


def test_problems_are_listed_with_their_spreadsheet_rows_and_nothing_is_created(
    org: Organisation, channel: ChannelAccount, pillar: Pillar
) -> None:
    data = csv_bytes(
        HEADER_ID,
        f"Satu;Teks pendek.;{FUTURE};08:00;fake;Olahraga;;",
        "Dua;Teks pendek.;31/02/2099;08:00;fake;;;",
        f";Teks pendek.;{FUTURE};08:00;fake;;;",
        f"Empat;{'x' * 150};{FUTURE};08:00;fake;;;",
        "Lima;Teks pendek.;2020-01-01;08:00;fake;;;",
        f"Enam;Teks pendek.;{FUTURE};08:00;@tidak-ada;;;",
        f"Tujuh;Teks pendek.;{FUTURE};08:00;fake;Kesehatan;;",
    )

    plan = bulk.parse_plan(org, data)

    found = {(e.row, e.column) for e in plan.errors}
    assert found == {
        (2, "pilar"),
        (3, "tanggal"),
        (4, "judul"),
        (5, "teks"),
        (6, "jam"),
        (7, "saluran"),
    }
    assert "Olahraga" in next(e.message for e in plan.errors if e.row == 2)
    assert "100" in next(e.message for e in plan.errors if e.row == 5)
    assert [r.row for r in plan.rows] == [8]
    assert not plan.ok
    assert not Post.objects.exists()


@pytest.mark.parametrize(
    ("data", "name", "message"),
    [
        (b"", "rencana.csv", "empty"),
        (b"judul;teks\r\n", "rencana.csv", "no rows"),
        (b"nama;isi\r\nA;B\r\n", "rencana.csv", "missing"),
        (b"\x89PNG\r\n\x1a\n\x00\x00\x00", "gambar.csv", "not a CSV"),
        (b"PK\x03\x04 not really a zip", "rencana.xlsx", "not a CSV"),
        (b"x" * (bulk.MAX_BYTES + 1), "rencana.csv", "larger than 2 MB"),
    ],
)
def test_a_file_that_is_not_a_plan_is_refused_as_a_whole(
    org: Organisation, channel: ChannelAccount, data: bytes, name: str, message: str
) -> None:
    with pytest.raises(ActionError, match=message):
        bulk.parse_plan(org, data, filename=name)


def test_more_than_a_thousand_rows_are_refused(org: Organisation, channel: ChannelAccount) -> None:
    rows = [f"Judul {n};Teks {n}" for n in range(bulk.MAX_ROWS + 1)]
    with pytest.raises(ActionError, match="more than 1000 rows"):
        bulk.parse_plan(org, csv_bytes("judul;teks", *rows))


def test_the_downloaded_template_is_a_valid_plan(
    as_user: Any, editor: User, org: Organisation, channel: ChannelAccount
) -> None:
    response = as_user(editor).get(reverse("publishing:bulk_template"))

    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/csv")
    assert response.content.decode("utf-8-sig").startswith(HEADER_ID)
    plan = bulk.parse_plan(org, response.content)
    assert plan.errors == []
    assert [r.channels for r in plan.rows] == [[channel]]


# --- the import pages ---------------------------------------------------------------------


def test_a_valid_plan_is_previewed_then_created_on_confirmation_with_one_audit_entry(
    as_user: Any, editor: User, org: Organisation, channel: ChannelAccount, pillar: Pillar
) -> None:
    client = as_user(editor)
    data = csv_bytes(
        HEADER_ID,
        f"Jadwal posyandu;Posyandu buka Sabtu.;{FUTURE};08:00;fake;Kesehatan;;",
        "Info banjir;Posko dibuka.;;;;;;",
    )

    preview = client.post(reverse("publishing:bulk_import"), {"file": upload(data)})

    assert preview.status_code == 200
    assert b"Jadwal posyandu" in preview.content
    assert b'data-testid="plan-confirm"' in preview.content
    assert not Post.objects.exists()

    digest = preview.context["digest"]
    done = client.post(reverse("publishing:bulk_import"), {"digest": digest})

    assert done.status_code == 302
    posts = list(Post.objects.filter(organisation=org).order_by("pk"))
    assert [p.title for p in posts] == ["Jadwal posyandu", "Info banjir"]
    assert {p.status for p in posts} == {PostStatus.DRAFT}  # still needs approval
    assert posts[0].pillar == pillar
    # The planned time is kept; approval schedules it (see actions.decide).
    assert posts[0].scheduled_at == datetime(2099, 3, 10, 1, 0, tzinfo=UTC)
    assert posts[1].scheduled_at is None
    assert [v.channel for v in posts[0].variants.all()] == [channel]
    [entry] = AuditEntry.objects.filter(action="publishing.plan.imported")
    assert entry.payload["count"] == 2
    assert entry.organisation == org

    again = client.post(reverse("publishing:bulk_import"), {"digest": digest})
    assert again.status_code == 302
    assert Post.objects.count() == 2  # a second click does not import twice


def test_an_organisation_without_approval_gets_imported_posts_scheduled(
    org: Organisation, editor: User, channel: ChannelAccount
) -> None:
    org.approval_steps = 0
    org.save()
    plan = bulk.parse_plan(org, csv_bytes(HEADER_ID, f"Satu;Teks.;{FUTURE};08:00;fake;;;"))

    [post] = bulk.import_plan(org, plan.rows, by=Actor(user=editor))

    post.refresh_from_db()
    assert post.status == PostStatus.SCHEDULED
    assert post.scheduled_at == datetime(2099, 3, 10, 1, 0, tzinfo=UTC)
    assert post.deliveries.count() == 1


def test_a_preview_with_problems_offers_no_confirmation(
    as_user: Any, editor: User, channel: ChannelAccount
) -> None:
    data = csv_bytes(HEADER_ID, "Lama;Teks.;2020-01-01;08:00;fake;;;")

    response = as_user(editor).post(reverse("publishing:bulk_import"), {"file": upload(data)})

    assert response.status_code == 200
    assert b'data-testid="plan-error"' in response.content
    assert b'data-testid="plan-confirm"' not in response.content
    assert not Post.objects.exists()


def test_the_confirmation_checks_the_plan_again(
    as_user: Any, editor: User, channel: ChannelAccount, pillar: Pillar
) -> None:
    client = as_user(editor)
    data = csv_bytes(HEADER_ID, f"Satu;Teks.;{FUTURE};08:00;fake;Kesehatan;;")
    preview = client.post(reverse("publishing:bulk_import"), {"file": upload(data)})
    pillar.delete()

    response = client.post(reverse("publishing:bulk_import"), {"digest": preview.context["digest"]})

    assert response.status_code == 200
    assert b"Kesehatan" in response.content
    assert b'data-testid="plan-error"' in response.content
    assert not Post.objects.exists()


def test_a_confirmation_without_a_matching_preview_creates_nothing(
    as_user: Any, editor: User, channel: ChannelAccount
) -> None:
    response = as_user(editor).post(reverse("publishing:bulk_import"), {"digest": "0" * 64})

    assert response.status_code == 302
    assert not Post.objects.exists()


def test_a_text_file_named_xlsx_is_rejected_with_a_message(
    as_user: Any, editor: User, channel: ChannelAccount
) -> None:
    data = csv_bytes(HEADER_ID, f"Satu;Teks.;{FUTURE};08:00;fake;;;")

    response = as_user(editor).post(
        reverse("publishing:bulk_import"), {"file": upload(data, "rencana.xlsx")}
    )

    assert response.status_code == 200
    assert response.context["form"].errors["file"] == [
        "The file is named like an Excel workbook but is not one; open it in Excel and save "
        "it again as .xlsx, or as CSV."
    ]
    assert not Post.objects.exists()


def test_an_analyst_may_export_but_may_not_import(
    as_user: Any, analyst: User, channel: ChannelAccount
) -> None:
    client = as_user(analyst)
    data = csv_bytes(HEADER_ID, f"Satu;Teks.;{FUTURE};08:00;fake;;;")

    assert client.get(reverse("publishing:calendar_export")).status_code == 200
    assert client.post(reverse("publishing:bulk_import"), {"file": upload(data)}).status_code == 403
    assert client.get(reverse("publishing:bulk_import")).status_code == 403
    assert not Post.objects.exists()


# --- export -------------------------------------------------------------------------------


@pytest.fixture
def scheduled(org: Organisation, editor: User, channel: ChannelAccount) -> Post:
    org.time_zone = TimeZoneChoice.WITA
    org.approval_steps = 0
    org.save()
    return make_post(
        org,
        editor,
        [channel],
        title="Jadwal posyandu",
        when=datetime(2026, 3, 10, 2, 0, tzinfo=UTC),
    )


@pytest.fixture
def elsewhere(other_org: Organisation, other_admin: User, other_channel: ChannelAccount) -> Post:
    other_org.approval_steps = 0
    other_org.save()
    return make_post(
        other_org,
        other_admin,
        [other_channel],
        title="Rahasia kota dua",
        when=datetime(2026, 3, 10, 3, 0, tzinfo=UTC),
    )


def export(client: Any, kind: str) -> Any:
    return client.get(
        reverse("publishing:calendar_export"),
        {"format": kind, "from": "2026-03-01", "to": "2026-03-31"},
    )


def test_the_csv_export_lists_the_organisations_posts_in_its_time_zone(
    as_user: Any, analyst: User, scheduled: Post, elsewhere: Post
) -> None:
    response = export(as_user(analyst), "csv")

    assert response.status_code == 200
    assert "attachment" in response["Content-Disposition"]
    rows = list(csv.reader(io.StringIO(response.content.decode("utf-8-sig"))))
    assert len(rows) == 2
    day, at, title, status, _pillar, _campaign, channels, link = rows[1]
    # 02:00 UTC is 10:00 in Makassar (WITA).
    assert (day, at, title) == ("2026-03-10", "10:00", "Jadwal posyandu")
    assert status == "Scheduled"
    assert channels == "pemkot-satu"
    assert link.endswith(reverse("publishing:post", args=[scheduled.pk]))
    assert b"Rahasia kota dua" not in response.content


def test_the_xlsx_export_lists_the_organisations_posts_in_its_time_zone(
    as_user: Any, analyst: User, scheduled: Post, elsewhere: Post
) -> None:
    response = export(as_user(analyst), "xlsx")

    assert response.status_code == 200
    sheet = openpyxl.load_workbook(io.BytesIO(response.content)).worksheets[0]
    values = [list(r) for r in sheet.iter_rows(values_only=True)]
    assert len(values) == 2
    assert values[1][:3] == ["2026-03-10", "10:00", "Jadwal posyandu"]


def test_the_ics_export_has_one_event_per_scheduled_post_of_the_organisation(
    as_user: Any, analyst: User, scheduled: Post, elsewhere: Post
) -> None:
    response = export(as_user(analyst), "ics")

    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/calendar")
    text = response.content.decode()
    assert text.startswith("BEGIN:VCALENDAR\r\n")
    assert text.endswith("END:VCALENDAR\r\n")
    assert text.count("BEGIN:VEVENT") == 1
    assert "DTSTART:20260310T020000Z\r\n" in text
    assert "SUMMARY:Jadwal posyandu\r\n" in text
    assert "Rahasia kota dua" not in text


def test_ics_text_is_escaped_and_long_lines_are_folded(org: Organisation) -> None:
    post = Post(
        pk=7,
        organisation=org,
        title="Vaksin; gratis, untuk semua \\ warga " + "é" * 60,
        status=PostStatus.SCHEDULED,
        scheduled_at=datetime(2026, 3, 10, 2, 0, tzinfo=UTC),
    )

    text = bulk.export_ics([post], org, now=datetime(2026, 3, 1, tzinfo=UTC)).decode()

    lines = text.split("\r\n")
    assert all(len(line.encode()) <= 75 for line in lines)
    unfolded = text.replace("\r\n ", "")
    assert "SUMMARY:Vaksin\\; gratis\\, untuk semua \\\\ warga " + "é" * 60 in unfolded


def test_an_export_with_a_bad_range_is_refused(as_user: Any, analyst: User) -> None:
    client = as_user(analyst)
    url = reverse("publishing:calendar_export")

    assert client.get(url, {"from": "2026-03-10", "to": "2026-03-01"}).status_code == 400
    assert client.get(url, {"from": "kemarin"}).status_code == 400
    assert client.get(url, {"format": "pdf"}).status_code == 400


def test_an_editor_sees_the_upload_form_with_the_columns_explained(
    as_user: Any, editor: User
) -> None:
    response = as_user(editor).get(reverse("publishing:bulk_import"))

    assert response.status_code == 200
    assert b'data-testid="plan-upload"' in response.content
    assert b"<code>judul</code>" in response.content
    assert reverse("publishing:bulk_template").encode() in response.content


def test_a_title_that_looks_like_a_formula_is_exported_as_text(
    org: Organisation, editor: User, channel: ChannelAccount
) -> None:
    post = make_post(org, editor, [channel], title='=HYPERLINK("https://jahat.example")')
    post.scheduled_at = datetime(2026, 3, 10, 2, 0, tzinfo=UTC)

    [row] = bulk.export_rows([post], org)

    assert row[2] == '\'=HYPERLINK("https://jahat.example")'
