"""CAP 1.2 out: the organisation's own alerts (its confirmed incidents) as CAP documents and
an Atom list of them, so other systems can relay them (see docs/cap.md, "CAP out").

Only active and closed incidents are published; proposed and dismissed ones never are. An
incident has at most two versions, each its own CAP message with its own identifier
``humas-<org slug>-incident-<id>-v<n>``:

- v1, ``msgType`` Alert, sent when the incident became active (declared, or confirmed);
- one Update for each emergency broadcast approved while it is active, carrying the
  broadcast's text (Indonesian and English) as CAP's ``instruction``;
- a last Update when it was closed, saying it ended (urgency Past). A closed incident is not
  a mistake, so it is not a Cancel.

Every Update ``references`` all earlier versions.

All these moments are stored, so a document regenerated later is byte-for-byte the same
message: relays keyed on (sender, identifier, sent) see each version once. Nothing else about
an incident is public and editable, so nothing else makes a new version.

Only safe public text goes out: the title, the area, the hazard, severity, times and the
approved broadcasts' texts. Never notes, citizens' messages or anyone's name.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta, tzinfo
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo

from django.conf import settings
from django.db.models import Max, Prefetch, Q, QuerySet
from django.urls import reverse
from django.utils import translation
from django.utils.translation import gettext as _
from lxml import etree

from humas.accounts.models import Organisation
from humas.crisis.cap import NS
from humas.crisis.models import (
    Broadcast,
    BroadcastStatus,
    HazardType,
    Incident,
    IncidentEventKind,
    IncidentStatus,
)

#: How far back closed incidents stay in the feed (active ones are always listed).
FEED_DAYS = 30
MAX_ENTRIES = 100
CAP_CONTENT_TYPE = "application/cap+xml"
CACHE_SECONDS = 60

PUBLISHED = (IncidentStatus.ACTIVE, IncidentStatus.CLOSED)

# CAP's <category> for each hazard (CAP 1.2 section 3.2.2).
CATEGORY = {
    HazardType.FLOOD: "Met",
    HazardType.LANDSLIDE: "Geo",
    HazardType.EARTHQUAKE: "Geo",
    HazardType.TSUNAMI: "Geo",
    HazardType.FIRE: "Fire",
    HazardType.EXTREME_WEATHER: "Met",
    HazardType.OUTBREAK: "Health",
    HazardType.EVACUATION: "Safety",
    HazardType.OTHER: "Other",
}

#: The info blocks: CAP's language code and the Django language that writes it.
LANGUAGES = (("id-ID", "id"), ("en-US", "en"))

_ATOM = "http://www.w3.org/2005/Atom"
# XML 1.0 cannot carry these, escaped or not; a pasted title might contain one.
_XML_INVALID = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")


def _clean(text: str) -> str:
    return _XML_INVALID.sub("", text).strip()


def sender() -> str:
    """CAP's sender: the site's host (CAP forbids spaces, commas, < and & in it)."""
    return urlsplit(settings.SITE_URL).hostname or "localhost"


def cap_time(moment: datetime, tz: tzinfo) -> str:
    """CAP's date-time: local time, whole seconds, a numeric offset (never "Z")."""
    return moment.astimezone(tz).replace(microsecond=0).isoformat()


def published(org: Organisation) -> QuerySet[Incident]:
    """The organisation's publishable incidents, each with ``activated_at``: when it became
    active (its declaration or confirmation on the timeline)."""
    approved = Broadcast.objects.filter(status=BroadcastStatus.APPROVED).order_by(
        "approved_at", "pk"
    )
    return (
        Incident.objects.filter(organisation=org, status__in=PUBLISHED)
        .annotate(
            activated_at=Max(
                "events__at",
                filter=Q(
                    events__kind__in=[IncidentEventKind.DECLARED, IncidentEventKind.CONFIRMED]
                ),
            )
        )
        # Each version's text and time: one query for the whole feed, not one per incident.
        .prefetch_related(Prefetch("broadcasts", queryset=approved, to_attr="approved"))
    )


def feed_incidents(org: Organisation, now: datetime) -> list[Incident]:
    """Active incidents, and those closed in the last ``FEED_DAYS`` days, latest change first."""
    since = now - timedelta(days=FEED_DAYS)
    rows = published(org).filter(Q(status=IncidentStatus.ACTIVE) | Q(closed_at__gte=since))
    return sorted(rows, key=lambda i: (_changed(i), i.pk), reverse=True)[:MAX_ENTRIES]


def _activated(incident: Incident) -> datetime:
    return getattr(incident, "activated_at", None) or incident.started_at


def _ended(incident: Incident) -> datetime | None:
    if incident.status == IncidentStatus.CLOSED:
        return incident.closed_at
    return None


def _changed(incident: Incident) -> datetime:
    return _moments(incident)[-1]


def _broadcasts(incident: Incident) -> list[Broadcast]:
    """The approved broadcasts since it became active (read with :func:`published`)."""
    activated = _activated(incident)
    return [
        b
        for b in incident.approved  # type: ignore[attr-defined]
        if b.approved_at and b.approved_at >= activated
    ]


def _moments(incident: Incident) -> list[datetime]:
    """When each version was sent: activation, each approved broadcast, the closing."""
    moments = [_activated(incident)]
    moments += [b.approved_at for b in _broadcasts(incident) if b.approved_at]
    ended = _ended(incident)
    if ended is not None:
        moments.append(ended)
    return moments


def version(incident: Incident) -> int:
    return len(_moments(incident))


def identifier(incident: Incident, n: int) -> str:
    return f"humas-{incident.organisation.slug}-incident-{incident.pk}-v{n}"


def document_url(incident: Incident) -> str:
    path = reverse("crisis:cap_out_alert", args=[incident.organisation.slug, incident.pk])
    return settings.SITE_URL + path


def _sub(parent: etree._Element, name: str, text: str) -> etree._Element:
    element = etree.SubElement(parent, f"{{{NS}}}{name}")
    element.text = text or None  # lxml escapes
    return element


def _description(incident: Incident, tz: ZoneInfo) -> str:
    parts = [
        _("%(hazard)s in %(area)s, declared by %(organisation)s.")
        % {
            "hazard": incident.get_hazard_display(),
            "area": _area(incident),
            "organisation": incident.organisation.name,
        }
    ]
    ended = _ended(incident)
    if ended is not None:
        parts.append(
            _("This incident ended at %(time)s.")
            % {"time": ended.astimezone(tz).strftime("%Y-%m-%d %H:%M %Z")}
        )
    return _clean(" ".join(parts))


def _instruction(broadcast: Broadcast | None, language: str) -> str:
    """The latest broadcast's text in this language (else in its first language)."""
    if broadcast is None or not broadcast.texts:
        return ""
    text = broadcast.texts.get(language) or next(iter(broadcast.texts.values()), "")
    return _clean(str(text))


def _area(incident: Incident) -> str:
    # areaDesc is required; an incident without an area covers the organisation's own.
    return _clean(incident.area) or _clean(incident.organisation.name)


def render_alert(incident: Incident) -> bytes:
    """The incident's latest version as a CAP 1.2 alert (UTF-8 XML)."""
    if incident.status not in PUBLISHED:
        raise ValueError("only active and closed incidents are published")
    org = incident.organisation
    tz = ZoneInfo(org.time_zone)
    moments = _moments(incident)
    n = len(moments)
    root = etree.Element(f"{{{NS}}}alert", nsmap={None: NS})
    _sub(root, "identifier", identifier(incident, n))
    _sub(root, "sender", sender())
    ended = _ended(incident)
    _sub(root, "sent", cap_time(moments[-1], tz))
    _sub(root, "status", "Actual")
    _sub(root, "msgType", "Alert" if n == 1 else "Update")
    _sub(root, "scope", "Public")
    if n > 1:
        _sub(
            root,
            "references",
            " ".join(
                f"{sender()},{identifier(incident, k)},{cap_time(moments[k - 1], tz)}"
                for k in range(1, n)
            ),
        )
    latest = _broadcasts(incident)[-1] if _broadcasts(incident) else None
    for cap_language, django_language in LANGUAGES:
        with translation.override(django_language):
            info = _sub(root, "info", "")
            _sub(info, "language", cap_language)
            _sub(info, "category", CATEGORY.get(HazardType(incident.hazard), "Other"))
            _sub(info, "event", str(incident.get_hazard_display()))
            _sub(info, "urgency", "Past" if ended is not None else "Immediate")
            _sub(info, "severity", incident.severity.capitalize())
            # A person declared it (Observed); one proposed by an official warning and then
            # confirmed is as certain as that warning usually is (Likely).
            _sub(info, "certainty", "Likely" if incident.proposed_by_alert_id else "Observed")
            _sub(info, "senderName", _clean(org.name))
            _sub(info, "headline", _clean(incident.title))
            _sub(info, "description", _description(incident, tz))
            instruction = _instruction(latest, django_language) if ended is None else ""
            if instruction:
                _sub(info, "instruction", instruction)
            area = _sub(info, "area", "")
            _sub(area, "areaDesc", _area(incident))
    return bytes(etree.tostring(root, xml_declaration=True, encoding="UTF-8"))


def render_feed(org: Organisation, now: datetime) -> bytes:
    """The Atom feed (RFC 4287) listing the organisation's CAP documents."""
    tz = ZoneInfo(org.time_zone)
    incidents = feed_incidents(org, now)
    host = sender()
    feed_url = settings.SITE_URL + reverse("crisis:cap_out_feed", args=[org.slug])
    root = etree.Element(f"{{{_ATOM}}}feed", nsmap={None: _ATOM})

    def sub(parent: etree._Element, name: str, text: str = "", **attrs: str) -> None:
        element = etree.SubElement(parent, f"{{{_ATOM}}}{name}", attrs)
        if text:
            element.text = text

    with translation.override(org.default_language):
        sub(root, "id", f"tag:{host},2026:humas/org/{org.pk}/cap")
        sub(root, "title", _clean(_("Alerts of %(organisation)s") % {"organisation": org.name}))
        # An empty feed's "updated" is the organisation's creation: stable, not "now".
        updated = max((_changed(i) for i in incidents), default=org.created_at)
        sub(root, "updated", cap_time(updated, UTC).replace("+00:00", "Z"))
        sub(root, "link", rel="self", href=feed_url)
        author = etree.SubElement(root, f"{{{_ATOM}}}author")
        sub(author, "name", _clean(org.name))
        for incident in incidents:
            entry = etree.SubElement(root, f"{{{_ATOM}}}entry")
            n = version(incident)
            sub(entry, "id", f"tag:{host},2026:humas/{identifier(incident, n)}")
            sub(entry, "title", _clean(incident.title) or "-", type="text")
            sub(entry, "published", cap_time(_activated(incident), tz))
            sub(entry, "updated", cap_time(_changed(incident), tz))
            sub(entry, "link", rel="alternate", type=CAP_CONTENT_TYPE, href=document_url(incident))
            sub(entry, "summary", _description(incident, tz), type="text")
    return bytes(etree.tostring(root, xml_declaration=True, encoding="UTF-8"))
