"""An incident's after-action report: the timeline, each broadcast's result per channel, the
inbox's response figures, key messages without personal data; as a page and as a PDF."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pypdfium2
import pytest
from django.urls import reverse

from humas.accounts.roles import Role
from humas.accounts.testing import make_member
from humas.channels.models import ChannelPost
from humas.crisis import after_action
from humas.crisis.models import (
    Broadcast,
    BroadcastStatus,
    Incident,
    IncidentEvent,
    IncidentMessage,
)
from humas.crisis.testing import arrive
from humas.inbox.models import Direction, Message, SendStatus
from humas.lib import pdf as libpdf
from humas.publishing.models import Delivery, DeliveryStatus, Post, PostStatus
from humas.publishing.testing import make_channel, make_post

pytestmark = pytest.mark.django_db

# 13:00 WIB.
T = datetime(2026, 11, 29, 6, 0, tzinfo=UTC)
EMERGENCY_TEXT = (
    "Tolong! Air sudah sepinggang, nama saya Siti Aminah, hubungi 0812-3456-7890. @tetangga_rt5"
)


@pytest.fixture
def bluesky(org):
    channel = make_channel(org, "bpbd.bsky.social", network="bluesky")
    channel.display_name = "BPBD Kota Satu"
    channel.save()
    return channel


@pytest.fixture
def mastodon(org):
    return make_channel(org, "bpbd@mastodon.id", network="mastodon")


@pytest.fixture
def incident(org, admin):
    # Rows made directly: the report reads what the actions leave, and declaring also pauses
    # publishing, which is not what these tests are about.
    found = Incident.objects.create(
        organisation=org,
        hazard="flood",
        title="Banjir Cicalengka",
        area="Kec. Cicalengka",
        severity="severe",
        started_at=T - timedelta(hours=1),
        lead=admin,
        created_by=admin,
    )
    IncidentEvent.objects.create(
        incident=found, at=T - timedelta(minutes=50), kind="declared", actor=admin, text=found.title
    )
    IncidentEvent.objects.create(
        incident=found,
        at=T + timedelta(minutes=30),
        kind="note",
        actor=admin,
        text="Posko dibuka di balai desa.",
    )
    # Written later, happened earlier: the timeline follows the time, not the row order.
    IncidentEvent.objects.create(
        incident=found, at=T - timedelta(minutes=55), kind="spike", text="banjir"
    )
    return found


@pytest.fixture
def broadcast(org, admin, editor, incident, bluesky, mastodon):
    post = make_post(org, editor, [bluesky, mastodon], text="Banjir: mengungsi ke balai desa.")
    Post.objects.filter(pk=post.pk).update(urgent=True, status=PostStatus.FAILED)
    approved_at = T + timedelta(minutes=5)
    sent = Broadcast.objects.create(
        organisation=org,
        incident=incident,
        hazard="flood",
        languages=["id", "en"],
        texts={
            "id": "Banjir di Cicalengka: mengungsi ke balai desa.",
            "en": "Flood in Cicalengka: go to the village hall.",
        },
        status=BroadcastStatus.APPROVED,
        post=post,
        created_by=editor,
        approved_by=admin,
        approved_at=approved_at,
    )
    sent.channels.set([bluesky, mastodon])
    published = ChannelPost.objects.create(
        organisation=org,
        channel=bluesky,
        external_id="at://bpbd/post/1",
        url="https://bsky.app/profile/bpbd.bsky.social/post/1",
        published_at=approved_at + timedelta(seconds=42),
    )
    for channel, fields in (
        (
            bluesky,
            {
                "status": DeliveryStatus.PUBLISHED,
                "channel_post": published,
                "published_at": published.published_at,
                "attempts": 1,
            },
        ),
        (
            mastodon,
            {
                "status": DeliveryStatus.FAILED,
                "last_error": "Mastodon refused the post: text too long",
                "attempts": 3,
            },
        ),
    ):
        Delivery.objects.create(
            organisation=org,
            post=post,
            variant=post.variants.get(channel=channel),
            channel=channel,
            post_version=post.version,
            due_at=approved_at,
            urgent=True,
            **fields,
        )
    # A draft never went out: not in the report.
    Broadcast.objects.create(
        organisation=org,
        incident=incident,
        parent=sent,
        hazard="flood",
        languages=["id"],
        texts={"id": "Draf pembaruan"},
        created_by=editor,
    )
    return sent


@pytest.fixture
def linked(incident, bluesky):
    """An emergency answered after 10 minutes (with a wrong reply that failed before it),
    and an ordinary message not answered."""
    (emergency,) = arrive(bluesky, EMERGENCY_TEXT, [T], author="siti_a")
    contact = emergency.conversation.contact
    contact.display_name = "Siti Aminah"
    contact.save()
    Message.objects.create(
        conversation=emergency.conversation,
        direction=Direction.OUT,
        text="Kami gagal kirim",
        created_at=T + timedelta(minutes=4),
        send_status=SendStatus.FAILED,
    )
    Message.objects.create(
        conversation=emergency.conversation,
        direction=Direction.OUT,
        text="Tim SAR menuju lokasi.",
        created_at=T + timedelta(minutes=10),
        send_status=SendStatus.SENT,
    )
    (ordinary,) = arrive(
        bluesky, "Jalan ke Cicalengka tergenang", [T + timedelta(minutes=20)], author="joko"
    )
    IncidentMessage.objects.create(incident=incident, message=emergency, matched_on="emergency")
    IncidentMessage.objects.create(
        incident=incident, message=ordinary, matched_on="area:cicalengka"
    )
    return emergency, ordinary


def report_url(incident, pdf=False):
    name = "crisis:incident_report_pdf" if pdf else "crisis:incident_report"
    return reverse(name, kwargs={"incident_id": incident.pk})


def pdf_text(data: bytes) -> str:
    document = pypdfium2.PdfDocument(data)
    return " ".join(page.get_textpage().get_text_range() for page in document)


def test_the_report_lists_each_channel_of_a_broadcast_with_its_result(
    admin, as_user, incident, broadcast, linked
):
    page = as_user(admin).get(report_url(incident), {"bahasa": "en"}).content.decode()
    body = page[page.index('data-testid="after-action"') :]
    channels = body[body.index('data-testid="aar-channels-1"') :]
    assert "BPBD Kota Satu" in channels and "bpbd@mastodon.id" in channels
    assert "Published" in channels and "Failed" in channels
    assert "Mastodon refused the post: text too long" in channels
    assert "https://bsky.app/profile/bpbd.bsky.social/post/1" in channels
    assert 'data-testid="aar-broadcast-2"' not in body
    assert "Flood in Cicalengka: go to the village hall." in body


def test_a_channel_result_counts_the_seconds_from_approval_to_publishing(
    incident, broadcast, linked
):
    report = after_action.build(incident, language="en")
    (section,) = report.broadcasts
    rows = {row.status: row for row in section.channels}
    assert rows["published"].seconds_after_approval == 42
    assert rows["failed"].seconds_after_approval is None
    assert rows["failed"].attempts == 3
    assert rows["published"].last_error == ""


def test_the_figures_measure_from_the_incident_message_to_our_first_reply_that_went_out(
    incident, broadcast, linked
):
    figures = after_action.build(incident, language="en").figures
    assert figures.messages == 2
    assert figures.emergencies == 1
    assert figures.conversations == 2
    assert figures.answered == 1
    assert figures.answered_share == Decimal("50.0")
    assert figures.median_first_response == Decimal("10.0")
    assert figures.broadcasts == 1
    assert figures.channels_reached == 1
    assert figures.first_broadcast_after == timedelta(hours=1, minutes=5, seconds=42)


def test_the_page_shows_the_response_figures(admin, as_user, incident, broadcast, linked):
    page = as_user(admin).get(report_url(incident), {"bahasa": "en"}).content.decode()
    median = page[page.index('data-testid="aar-median-first-response"') :]
    assert median[: median.index("</td>")].endswith("10 min")
    answered = page[page.index('data-testid="aar-answered"') :]
    assert answered[: answered.index("</td>")].endswith("1 (50 %)")
    first = page[page.index('data-testid="aar-first-broadcast"') :]
    assert first[: first.index("</td>")].endswith("1 h 5 min")


def test_key_messages_mask_phone_numbers_names_and_handles_emergencies_first(
    admin, as_user, incident, linked
):
    emergency, _ordinary = linked
    report = after_action.build(incident, language="en")
    first, second = report.key_messages
    assert first.emergency and not second.emergency
    assert "[phone •••]" in first.text and "[name •••]" in first.text
    assert "Tolong! Air sudah sepinggang" in first.text
    page = as_user(admin).get(report_url(incident), {"bahasa": "en"}).content.decode()
    for personal in ("0812-3456-7890", "Siti", "Aminah", "siti_a", "tetangga_rt5"):
        assert personal not in page
    # The text as stored is untouched: only the report masks it.
    emergency.refresh_from_db()
    assert "0812-3456-7890" in emergency.text


def test_an_erased_citizens_messages_are_counted_but_not_quoted(incident, linked):
    emergency, _ordinary = linked
    contact = emergency.conversation.contact
    contact.erased_at = T
    contact.save()
    report = after_action.build(incident, language="en")
    assert report.figures.messages == 2
    assert [m.text for m in report.key_messages] == ["Jalan ke Cicalengka tergenang"]


def test_the_timeline_has_every_event_in_order_with_who_did_it(admin, incident):
    report = after_action.build(incident, language="en")
    assert [line.kind for line in report.timeline] == ["spike", "declared", "note"]
    assert report.timeline[2].text == "Posko dibuka di balai desa."
    assert report.timeline[2].actor == str(admin)
    assert report.timeline[0].actor == ""
    assert report.timeline[2].at.hour == 13 and report.timeline[2].at.minute == 30
    assert report.started_at.utcoffset() == timedelta(hours=7)


def test_the_pdf_holds_the_incident_and_its_channels(admin, as_user, incident, broadcast, linked):
    response = as_user(admin).get(report_url(incident, pdf=True), {"bahasa": "en"})
    assert response.status_code == 200
    assert response["Content-Type"] == "application/pdf"
    assert f'filename="insiden-{incident.pk}-laporan.pdf"' in response["Content-Disposition"]
    assert response.content.startswith(b"%PDF")
    text = "".join(pdf_text(response.content).split())
    assert "BanjirCicalengka" in text
    assert "BPBDKotaSatu" in text
    assert "0812-3456-7890" not in text


def test_the_report_is_in_the_organisations_language_unless_english_is_asked(
    admin, as_user, incident, broadcast
):
    client = as_user(admin)
    indonesian = client.get(report_url(incident)).content.decode()
    assert '<article class="aar" lang="id"' in indonesian
    assert "Diterbitkan" in indonesian
    english = client.get(report_url(incident), {"bahasa": "en"}).content.decode()
    assert '<article class="aar" lang="en"' in english
    assert "After-action report" in english and "Diterbitkan" not in english
    assert 'laporan.pdf?bahasa=en"' in english


def test_when_pdfs_cannot_be_made_the_report_page_says_why(admin, as_user, incident, monkeypatch):
    def no_pango(report):
        raise libpdf.PdfUnavailable("PDF files cannot be made on this server")

    monkeypatch.setattr(after_action, "pdf", no_pango)
    response = as_user(admin).get(report_url(incident, pdf=True), {"bahasa": "en"}, follow=True)
    assert response.redirect_chain[-1][0] == f"{report_url(incident)}?bahasa=en"
    assert "PDF files cannot be made on this server" in response.content.decode()


def test_without_weasyprint_making_a_pdf_raises_pdf_unavailable(monkeypatch):
    import builtins

    real_import = builtins.__import__

    def no_pango(name, *args, **kwargs):
        if name == "weasyprint":
            raise OSError("cannot load library 'libpango-1.0-0'")
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_pango)
    with pytest.raises(libpdf.PdfUnavailable, match="Pango"):
        libpdf.html_to_pdf("<p>x</p>", "")


def test_another_organisations_incident_is_not_found(other_admin, as_user, incident):
    client = as_user(other_admin)
    assert client.get(report_url(incident)).status_code == 404
    assert client.get(report_url(incident, pdf=True)).status_code == 404


def test_a_role_that_does_not_see_incidents_is_refused(org, as_user, incident):
    analyst = make_member(org, "analis@satu.go.id", Role.ANALYST)
    client = as_user(analyst)
    assert client.get(report_url(incident)).status_code == 403
    assert client.get(report_url(incident, pdf=True)).status_code == 403


def test_an_emergency_label_counts_unless_a_person_corrected_it(incident, bluesky):
    labelled, corrected = arrive(
        bluesky,
        "Ada yang terjebak di atap",
        [T, T + timedelta(minutes=1)],
        labels={"category": "emergency"},
    )
    Message.objects.filter(pk=corrected.pk).update(corrections={"category": "complaint"})
    for message in (labelled, corrected):
        IncidentMessage.objects.create(incident=incident, message=message, matched_on="area:atap")
    report = after_action.build(incident, language="en")
    assert report.figures.emergencies == 1
    assert [m.emergency for m in report.key_messages] == [True, False]
    assert report.key_messages[1].category == "Complaint"
