"""Replaying the fixture messages through the real parsing code (no servers needed)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from humas.channels.providers.base import EventKind, InboundEvent
from humas.channels.providers.email import parsing
from humas.channels.providers.email.provider import imap_utf7, reply_subject
from humas.channels.providers.email.tests.conftest import AGENCY, fixture_bytes


def event_from(name: str, arrived_at: datetime | None = None) -> InboundEvent:
    message = parsing.parse_message(fixture_bytes(name))
    assert parsing.skip_reason(message, AGENCY) == ""
    return parsing.to_event(message, uid=7, uidvalidity=99, folder="INBOX", arrived_at=arrived_at)


def test_it_reads_a_citizen_email_as_a_direct_message() -> None:
    event = event_from("citizen.eml")
    assert event.kind == EventKind.DIRECT_MESSAGE
    assert event.external_id == "<CAB8x1Yq7warga1@mail.example.net>"
    assert event.thread_id == event.external_id
    assert event.parent_id == ""
    assert event.author_id == "budi.santoso@example.net"
    assert event.author_name == "Budi Santoso"
    assert event.language == "id"
    assert event.text.startswith("Selamat pagi Bapak/Ibu,")
    assert "Mohon segera diperbaiki." in event.text
    assert event.created_at == datetime(2025, 11, 29, 1, 2, 5, tzinfo=UTC)
    assert event.raw["subject"] == "Jalan rusak di Jl. Merdeka"
    assert event.raw["uid"] == 7 and event.raw["uidvalidity"] == 99


def test_it_threads_a_follow_up_under_the_citizens_first_message() -> None:
    event = event_from("citizen-followup.eml")
    assert event.thread_id == "<CAB8x1Yq7warga1@mail.example.net>"
    assert event.parent_id == "<174236.1.88@kota.go.id>"
    assert event.raw["references"] == [
        "<CAB8x1Yq7warga1@mail.example.net>",
        "<174236.1.88@kota.go.id>",
    ]
    # text/plain is preferred over the HTML alternative, which is not an attachment.
    assert event.text.startswith("Terima kasih atas tanggapannya.")
    assert event.media == []


def test_it_decodes_an_encoded_indonesian_subject_and_a_latin1_body() -> None:
    event = event_from("latin1.eml")
    assert event.raw["subject"] == "Permohonan informasi bantuan sosial – Kelurahan Sukamaju"
    assert event.author_name == "Siti Nurhaliza – RT 05"
    assert '"Renée"' in event.text
    assert "½ hari" in event.text


def test_it_keeps_attachment_metadata_but_not_the_bytes() -> None:
    event = event_from("pdf-attachment.eml")
    assert event.media == [
        {"filename": "surat-pengaduan.pdf", "mime_type": "application/pdf", "size": 218}
    ]
    assert event.language == "id-id"
    assert "antrean KTP" in event.text


def test_it_turns_an_html_only_message_into_text() -> None:
    event = event_from("html-only.eml")
    assert "alert" not in event.text and "color" not in event.text
    assert event.text == (
        "Sampah di Pasar Baru menumpuk sejak Senin.\n\n- Bau\n- Banyak lalat\n\n"
        "Foto: lihat di sini (https://foto.example.com/sampah.jpg)"
    )


def test_it_survives_an_unknown_charset_a_missing_date_and_a_nul_byte() -> None:
    arrived = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)
    event = event_from("broken-charset.eml", arrived_at=arrived)
    # No Message-ID: the server's UID stands in, namespaced by UIDVALIDITY.
    assert event.external_id == "uid:99:7"
    assert event.thread_id == "uid:99:7"
    assert event.created_at == arrived
    assert event.raw["subject"] == "Lampu jalan mati"
    assert "café tutup" in event.text
    assert "\x00" not in event.text


@pytest.mark.parametrize(
    ("name", "reason"),
    [
        ("auto-reply.eml", "auto-submitted (auto-replied)"),
        ("bounce.eml", "report (delivery-status)"),
        ("own.eml", "sent by the agency itself"),
    ],
)
def test_it_recognises_machines_and_the_agency_itself(name: str, reason: str) -> None:
    message = parsing.parse_message(fixture_bytes(name))
    assert parsing.skip_reason(message, AGENCY) == reason


def variant(**headers: str) -> bytes:
    """The citizen fixture with some headers added or replaced."""
    message = parsing.parse_message(fixture_bytes("citizen.eml"))
    for name, value in headers.items():
        name = name.replace("_", "-")
        del message[name]
        message[name] = value
    return message.as_bytes()


@pytest.mark.parametrize(
    ("headers", "skipped"),
    [
        ({"Auto_Submitted": "auto-generated"}, True),
        ({"Auto_Submitted": "no"}, False),
        ({"X_Autoreply": "yes"}, True),
        ({"X_Autorespond": "Vacation"}, True),
        ({"Precedence": "bulk"}, True),
        ({"Precedence": "junk"}, True),
        ({"Precedence": "auto_reply"}, True),
        ({"Precedence": "first-class"}, False),
        ({"Subject": "Out of Office: Jalan rusak"}, True),
        ({"Subject": "Automatic reply: Jalan rusak"}, True),
        ({"Subject": "Balasan otomatis: Jalan rusak"}, True),
        ({"Subject": "Kantor kosong, tidak ada petugas"}, False),
        ({"From": "Mail Delivery Subsystem <MAILER-DAEMON@example.net>"}, True),
        ({"From": "postmaster@example.net"}, True),
        ({"Return_Path": "<>"}, True),
        ({"From": "Humas <PENGADUAN@kota.go.id>"}, True),
    ],
)
def test_it_skips_each_kind_of_machine_mail(headers: dict[str, str], skipped: bool) -> None:
    message = parsing.parse_message(variant(**headers))
    assert bool(parsing.skip_reason(message, AGENCY)) is skipped


def test_it_never_crashes_on_hostile_headers() -> None:
    data = (
        b"From: =?utf-8?B?!!!notbase64?= <\xff\xfe@@example.net>\r\n"
        b"Subject: =?bogus-charset?Q?=E9t=E9?= \xe9\r\n"
        b"Date: not a date\r\n"
        b"References: garbage <ok@example.net> <<nested>>\r\n"
        b'Content-Type: multipart/mixed; boundary="missing"\r\n'
        b"\r\nno parts at all\r\n"
    )
    message = parsing.parse_message(data)
    event = parsing.to_event(message, uid=3, uidvalidity=1, folder="INBOX")
    assert event.external_id == "uid:1:3"
    assert event.thread_id == "<ok@example.net>"
    assert event.created_at.tzinfo is not None
    for value in (event.text, event.author_id, event.author_name, event.raw["subject"]):
        value.encode("utf-8")  # no lone surrogates reach the database


def test_it_writes_reply_subjects_without_stacking_prefixes() -> None:
    assert reply_subject("Jalan rusak") == "Re: Jalan rusak"
    assert reply_subject("Re: Jalan rusak") == "Re: Jalan rusak"
    assert reply_subject("RE: re: Bls: Jalan\r\n rusak") == "Re: Jalan rusak"
    assert reply_subject("") == "Re:"


def test_it_names_folders_in_imap_modified_utf7() -> None:
    assert imap_utf7("INBOX") == "INBOX"
    assert imap_utf7("Pengaduan & Saran") == "Pengaduan &- Saran"
    assert imap_utf7("Café") == "Caf&AOk-"
