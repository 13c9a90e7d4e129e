"""An incident's after-action report: everything that happened, in one document
(docs/after-action.md).

:func:`build` reads the incident once into an :class:`AfterAction`: its facts, the timeline,
each broadcast with what every channel did with it, the inbox's figures for the incident's
messages and a few key messages. :func:`render_html` writes it as HTML (the on-screen
preview and the PDF share one body template) and :func:`pdf` as an A4 PDF.

A report is built in one language (Indonesian or English) and everything in it follows,
whatever the reader's interface says; times are the organisation's local times.

No citizen is named: key messages show their text with personal data masked (phone numbers,
e-mail addresses, NIK, street addresses, the sender's own name and handle, @mentions), and
never who wrote them.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from django.contrib.staticfiles import finders
from django.db.models import BooleanField, Case, Count, Min, Q, Value, When
from django.template.loader import render_to_string
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from humas.accounts.models import Organisation, User
from humas.crisis.models import (
    Broadcast,
    BroadcastStatus,
    Incident,
    IncidentMessage,
)
from humas.inbox.models import Category, Contact, Direction, Message, SendStatus
from humas.lib.pdf import PdfUnavailable, html_to_pdf
from humas.publishing.models import Delivery, DeliveryStatus
from humas.triage import mask
from humas.triage.engine import find_personal_data

#: Languages a report can be written in (the interface's languages).
LANGUAGES = ("id", "en")

CSS_PATH = "crisis/after_action.css"

#: How many of the incident's messages the report quotes.
KEY_MESSAGES = 15

#: Our replies that count as an answer: sent, or stored without a sending step (a reply
#: read back from the network). A failed or unfinished send reached nobody.
ANSWERED = (SendStatus.SENT, SendStatus.NONE)


@dataclass(frozen=True)
class TimelineLine:
    at: datetime
    kind: str
    label: str
    actor: str
    text: str


@dataclass(frozen=True)
class ChannelResult:
    """What one channel did with one broadcast (one delivery of its post)."""

    channel: str
    network: str
    status: str
    status_label: str
    published_at: datetime | None
    # From the broadcast's approval to this channel's publication.
    seconds_after_approval: int | None
    url: str
    last_error: str
    attempts: int


@dataclass(frozen=True)
class BroadcastSection:
    number: int
    # The number of the broadcast this one updates, in this report's numbering.
    update_of: int | None
    hazard: str
    status_label: str
    approved_by: str
    approved_at: datetime | None
    # (language code, text) in the order the broadcast lists its languages.
    texts: list[tuple[str, str]]
    channels: list[ChannelResult]


@dataclass(frozen=True)
class KeyMessage:
    at: datetime
    network: str
    category: str
    emergency: bool
    text: str


@dataclass(frozen=True)
class Figures:
    messages: int
    emergencies: int
    conversations: int
    answered: int
    # Percent of the conversations answered, one decimal; None without conversations.
    answered_share: Decimal | None
    # Minutes, one decimal; None when nothing was answered.
    median_first_response: Decimal | None
    broadcasts: int
    channels_reached: int
    # From the incident's start to the first channel publishing a broadcast.
    first_broadcast_after: timedelta | None


@dataclass
class AfterAction:
    incident: Incident
    organisation: Organisation
    language: str
    zone: ZoneInfo
    generated_at: datetime
    title: str
    hazard: str
    area: str
    severity: str
    status: str
    started_at: datetime
    closed_at: datetime | None
    lead: str
    # Until closing, or until now for an incident still going on.
    duration: timedelta
    figures: Figures
    timeline: list[TimelineLine] = field(default_factory=list)
    broadcasts: list[BroadcastSection] = field(default_factory=list)
    key_messages: list[KeyMessage] = field(default_factory=list)

    def file_name(self) -> str:
        return f"insiden-{self.incident.pk}-laporan.pdf"


# --- gathering -------------------------------------------------------------------------------


def _person(user: User | None) -> str:
    return str(user) if user is not None else ""


def _local(moment: datetime | None, zone: ZoneInfo) -> datetime | None:
    return None if moment is None else moment.astimezone(zone)


def timeline(incident: Incident, zone: ZoneInfo) -> list[TimelineLine]:
    events = incident.events.select_related("actor").order_by("at", "pk")
    return [
        TimelineLine(
            at=event.at.astimezone(zone),
            kind=event.kind,
            label=str(event.get_kind_display()),  # type: ignore[attr-defined]
            actor=_person(event.actor),
            text=event.text,
        )
        for event in events
    ]


def _result(delivery: Delivery, approved_at: datetime | None, zone: ZoneInfo) -> ChannelResult:
    channel = delivery.channel
    after = None
    if delivery.published_at is not None and approved_at is not None:
        after = max(0, round((delivery.published_at - approved_at).total_seconds()))
    post = delivery.channel_post
    return ChannelResult(
        channel=channel.display_name or channel.handle,
        network=channel.network_label,
        status=delivery.status,
        status_label=str(delivery.get_status_display()),  # type: ignore[attr-defined]
        published_at=_local(delivery.published_at, zone),
        seconds_after_approval=after,
        url=post.url if post is not None and post.deleted_at is None else "",
        last_error=delivery.last_error if delivery.status != DeliveryStatus.PUBLISHED else "",
        attempts=delivery.attempts,
    )


def broadcast_sections(
    broadcasts: list[Broadcast], zone: ZoneInfo
) -> tuple[list[BroadcastSection], list[Delivery]]:
    """The sections in the order the broadcasts were written, and every delivery read."""
    numbers = {b.pk: index for index, b in enumerate(broadcasts, start=1)}
    sections, deliveries = [], []
    for broadcast in broadcasts:
        found: list[Delivery] = []
        if broadcast.post is not None:
            found = list(broadcast.post.deliveries.all())
        deliveries.extend(found)
        sections.append(
            BroadcastSection(
                number=numbers[broadcast.pk],
                update_of=numbers.get(broadcast.parent_id) if broadcast.parent_id else None,
                hazard=str(broadcast.get_hazard_display()),  # type: ignore[attr-defined]
                status_label=str(broadcast.get_status_display()),  # type: ignore[attr-defined]
                approved_by=_person(broadcast.approved_by),
                approved_at=_local(broadcast.approved_at, zone),
                texts=[
                    (code, str(broadcast.texts.get(code, "")))
                    for code in (broadcast.languages or list(broadcast.texts))
                ],
                channels=[_result(d, broadcast.approved_at, zone) for d in found],
            )
        )
    return sections, deliveries


def _emergency() -> Q:
    """An incident message that is an emergency: linked as one, or labelled one (a person's
    correction of the label wins over the triage's)."""
    corrected = Q(message__corrections__has_key="category")
    return (
        Q(matched_on="emergency")
        | Q(message__corrections__category=Category.EMERGENCY)
        | (~corrected & Q(message__triage__category=Category.EMERGENCY))
    )


def median(values: list[timedelta]) -> timedelta | None:
    """The middle wait, or the mean of the two middle ones (the dashboards' rule)."""
    if not values:
        return None
    ordered = sorted(values)
    middle = len(ordered) // 2
    if len(ordered) % 2:
        return ordered[middle]
    return (ordered[middle - 1] + ordered[middle]) / 2


def first_responses(incident: Incident) -> tuple[int, list[timedelta]]:
    """(conversations, waits): the conversations of the incident's messages, and for each
    one answered, the time from its first incident message to our first reply after it.

    Measured from the incident's own first message, not from the conversation's opening: a
    citizen who wrote about something else last week and about the flood today was kept
    waiting since today."""
    firsts = dict(
        IncidentMessage.objects.filter(incident=incident, message__direction=Direction.IN)
        .values("message__conversation_id")
        .annotate(first=Min("message__created_at"))
        .values_list("message__conversation_id", "first")
    )
    replies = Message.objects.filter(
        conversation_id__in=list(firsts),
        direction=Direction.OUT,
        send_status__in=ANSWERED,
    ).values_list("conversation_id", "created_at")
    answered: dict[int, datetime] = {}
    for conversation_id, at in replies:
        if at >= firsts[conversation_id] and (
            conversation_id not in answered or at < answered[conversation_id]
        ):
            answered[conversation_id] = at
    return len(firsts), [at - firsts[c] for c, at in answered.items()]


def _minutes(wait: timedelta | None) -> Decimal | None:
    if wait is None:
        return None
    return (Decimal(wait.total_seconds()) / 60).quantize(Decimal("0.1"))


def figures(incident: Incident, broadcasts: list[Broadcast], deliveries: list[Delivery]) -> Figures:
    counts = IncidentMessage.objects.filter(incident=incident).aggregate(
        messages=Count("pk"), emergencies=Count("pk", filter=_emergency())
    )
    conversations, waits = first_responses(incident)
    published = [d for d in deliveries if d.status == DeliveryStatus.PUBLISHED and d.published_at]
    first_published = min((d.published_at for d in published if d.published_at), default=None)
    return Figures(
        messages=counts["messages"],
        emergencies=counts["emergencies"],
        conversations=conversations,
        answered=len(waits),
        answered_share=(
            (Decimal(len(waits) * 100) / conversations).quantize(Decimal("0.1"))
            if conversations
            else None
        ),
        median_first_response=_minutes(median(waits)),
        broadcasts=sum(1 for b in broadcasts if b.status == BroadcastStatus.APPROVED),
        channels_reached=len({d.channel_id for d in published}),
        first_broadcast_after=(
            max(first_published - incident.started_at, timedelta(0))
            if first_published is not None
            else None
        ),
    )


# --- key messages ----------------------------------------------------------------------------

_MENTION = re.compile(r"(?<![\w@])@[\w][\w.\-]*")
# "nama saya Siti Aminah", "saya bernama …", "my name is …": the capitalised words after.
_INTRODUCTION = re.compile(
    r"(?i:\bnama saya\b|\bsaya bernama\b|\bmy name is\b)\s*:?\s+"
    r"([A-Z][\w'.\-]*(?:\s+[A-Z][\w'.\-]*){0,3})"
)


def _word_spans(text: str, word: str, kind: str) -> list[dict[str, Any]]:
    pattern = re.compile(r"(?<!\w)" + re.escape(word) + r"(?!\w)", re.IGNORECASE)
    return [{"kind": kind, "start": m.start(), "end": m.end()} for m in pattern.finditer(text)]


def _name_spans(text: str, contact: Contact) -> list[dict[str, Any]]:
    """Where the text names its writer: their name on the network (whole, and each word of
    it long enough not to be a common syllable), their handle, any @mention, and a name
    after "nama saya"."""
    found: list[dict[str, Any]] = []
    name = contact.display_name.strip()
    words = [name, *(w for w in re.split(r"\s+", name) if len(w) >= 3)] if name else []
    handle = contact.handle.strip().lstrip("@")
    for word in words:
        found += _word_spans(text, word, "name")
    if handle:
        found += _word_spans(text, handle, "handle")
    found += [
        {"kind": "handle", "start": m.start(), "end": m.end()} for m in _MENTION.finditer(text)
    ]
    found += [
        {"kind": "name", "start": m.start(1), "end": m.end(1)} for m in _INTRODUCTION.finditer(text)
    ]
    return found


def _merged(spans: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Overlapping spans as one: the masker skips an overlapping span, which would leave the
    part of it beyond the first in clear."""
    merged: list[dict[str, Any]] = []
    for span in sorted(spans, key=lambda s: (int(s["start"]), -int(s["end"]))):
        start, end = int(span["start"]), int(span["end"])
        if merged and start < merged[-1]["end"]:
            merged[-1]["end"] = max(merged[-1]["end"], end)
        else:
            merged.append({"kind": span["kind"], "start": start, "end": end})
    return merged


def masked_text(message: Message) -> str:
    """The message's text with every personal datum the inbox's triage finds (read again, in
    case the stored triage predates a detector) and the writer's names masked."""
    text = message.text
    stored = message.triage.get("personal_data") or []
    spans = [
        *(s for s in stored if isinstance(s, dict) and {"kind", "start", "end"} <= s.keys()),
        *find_personal_data(text),
        *_name_spans(text, message.conversation.contact),
    ]
    return str(mask(text, _merged(spans)))


def _category(message: Message) -> str:
    value = message.corrections.get("category") or message.triage.get("category")
    if value in Category.values:
        return str(Category(value).label)
    return str(message.conversation.get_category_display())  # type: ignore[attr-defined]


def key_messages(incident: Incident, zone: ZoneInfo) -> list[KeyMessage]:
    """Up to :data:`KEY_MESSAGES` of the incident's messages: emergencies first, then the
    newest. An erased citizen's messages are left out (their texts are gone)."""
    links = (
        IncidentMessage.objects.filter(
            incident=incident,
            message__direction=Direction.IN,
            message__conversation__contact__erased_at__isnull=True,
        )
        .annotate(
            is_emergency=Case(
                When(_emergency(), then=Value(True)),
                default=Value(False),
                output_field=BooleanField(),
            )
        )
        .select_related("message__conversation__contact", "message__conversation__channel")
        .order_by("-is_emergency", "-message__created_at", "-message_id")[:KEY_MESSAGES]
    )
    return [
        KeyMessage(
            at=link.message.created_at.astimezone(zone),
            network=link.message.conversation.channel.network_label,
            category=_category(link.message),
            emergency=bool(link.is_emergency),  # type: ignore[attr-defined]
            text=masked_text(link.message),
        )
        for link in links
    ]


# --- the report ------------------------------------------------------------------------------


def language_for(organisation: Organisation, asked: str = "") -> str:
    """``asked`` when the report can be written in it, else the organisation's language."""
    if asked in LANGUAGES:
        return asked
    return organisation.default_language if organisation.default_language in LANGUAGES else "id"


def build(incident: Incident, *, language: str) -> AfterAction:
    """Everything the report shows, read once, with texts in ``language``."""
    if language not in LANGUAGES:
        raise ValueError(f"unknown report language {language!r}")
    org = incident.organisation
    zone = ZoneInfo(org.time_zone)
    now = timezone.now()
    broadcasts = list(
        incident.broadcasts.exclude(status=BroadcastStatus.DRAFT)
        .select_related("approved_by", "post")
        .prefetch_related("post__deliveries__channel", "post__deliveries__channel_post")
        .order_by("created_at", "pk")
    )
    with translation.override(language):
        sections, deliveries = broadcast_sections(broadcasts, zone)
        return AfterAction(
            incident=incident,
            organisation=org,
            language=language,
            zone=zone,
            generated_at=now.astimezone(zone),
            title=incident.title,
            hazard=str(incident.get_hazard_display()),  # type: ignore[attr-defined]
            area=incident.area,
            severity=str(incident.get_severity_display()),  # type: ignore[attr-defined]
            status=str(incident.get_status_display()),  # type: ignore[attr-defined]
            started_at=incident.started_at.astimezone(zone),
            closed_at=_local(incident.closed_at, zone),
            lead=_person(incident.lead),
            duration=max((incident.closed_at or now) - incident.started_at, timedelta(0)),
            figures=figures(incident, broadcasts, deliveries),
            timeline=timeline(incident, zone),
            broadcasts=sections,
            key_messages=key_messages(incident, zone),
        )


def span(wait: timedelta | None) -> str:
    """A duration as days, hours and minutes ("1 d 2 h 5 min"), in the active language."""
    if wait is None:
        return "—"
    minutes = int(wait.total_seconds() // 60)
    days, minutes = divmod(minutes, 24 * 60)
    hours, minutes = divmod(minutes, 60)
    parts = []
    if days:
        parts.append(_("%(n)d d") % {"n": days})
    if hours:
        parts.append(_("%(n)d h") % {"n": hours})
    if minutes or not parts:
        parts.append(_("%(n)d min") % {"n": minutes})
    return " ".join(parts)


def render_html(after_action: AfterAction, *, document: bool) -> str:
    """The report's body (for the on-screen preview) or, with ``document``, a whole HTML
    document around the same body for the PDF. Always in the report's language and the
    organisation's time zone."""
    with translation.override(after_action.language), timezone.override(after_action.zone):
        return render_to_string(
            "crisis/after_action.html",
            {
                "report": after_action,
                "figures": after_action.figures,
                "org": after_action.organisation,
                "document": document,
                "duration": span(after_action.duration),
                "first_broadcast_after": span(after_action.figures.first_broadcast_after),
                "time_zone": after_action.organisation.get_time_zone_display(),  # type: ignore[attr-defined]
                "limit": KEY_MESSAGES,
                "LANGUAGE_CODE": after_action.language,
            },
        )


def stylesheet() -> str:
    found = finders.find(CSS_PATH)
    if not found:
        raise PdfUnavailable(_("The report's stylesheet is missing from the installation."))
    return Path(str(found)).read_text(encoding="utf-8")


def pdf(after_action: AfterAction) -> bytes:
    """The report as an A4 PDF; :class:`~humas.lib.pdf.PdfUnavailable` when this server
    cannot make PDFs."""
    return html_to_pdf(render_html(after_action, document=True), stylesheet())
