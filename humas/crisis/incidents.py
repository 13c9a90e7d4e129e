"""Named actions for incidents (see ``docs/incidents.md``): declared by hand, or proposed by
a CAP alert or a spike and confirmed (or dismissed) by a person; a lead, notes, closing.

Each action runs in a transaction, writes one audit entry and adds one line to the
incident's timeline (:class:`~humas.crisis.models.IncidentEvent`), which is what the
after-action report is read from.
"""

from __future__ import annotations

from datetime import datetime

from django.db import IntegrityError, transaction
from django.urls import reverse
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from humas.accounts.actions import ActionError, Notice, notify_many
from humas.accounts.audit import Actor, record
from humas.accounts.models import Membership, Organisation, User
from humas.crisis.models import (
    CapAlert,
    HazardType,
    Incident,
    IncidentEvent,
    IncidentEventKind,
    IncidentSeverity,
    IncidentStatus,
    SpikeAlert,
)

SYSTEM = Actor.system("crisis")

#: Words of a CAP event/category or a spike's key that name a hazard, Indonesian and English,
#: tried in this order (so "banjir bandang" is a flood, not "other"). Lower-case; a word
#: matches anywhere in the text.
HAZARD_WORDS: list[tuple[str, HazardType]] = [
    ("tsunami", HazardType.TSUNAMI),
    ("gempa", HazardType.EARTHQUAKE),
    ("earthquake", HazardType.EARTHQUAKE),
    ("banjir", HazardType.FLOOD),
    ("flood", HazardType.FLOOD),
    ("longsor", HazardType.LANDSLIDE),
    ("landslide", HazardType.LANDSLIDE),
    ("kebakaran", HazardType.FIRE),
    ("karhutla", HazardType.FIRE),
    ("fire", HazardType.FIRE),
    ("hujan lebat", HazardType.EXTREME_WEATHER),
    ("angin kencang", HazardType.EXTREME_WEATHER),
    ("cuaca ekstrem", HazardType.EXTREME_WEATHER),
    ("puting beliung", HazardType.EXTREME_WEATHER),
    ("thunderstorm", HazardType.EXTREME_WEATHER),
    ("heavy rain", HazardType.EXTREME_WEATHER),
    ("storm", HazardType.EXTREME_WEATHER),
    ("wabah", HazardType.OUTBREAK),
    ("outbreak", HazardType.OUTBREAK),
    ("evakuasi", HazardType.EVACUATION),
    ("evacuation", HazardType.EVACUATION),
]
#: CAP 1.2 categories that say enough on their own when no word matched.
HAZARD_CATEGORIES = {"Fire": HazardType.FIRE, "Met": HazardType.EXTREME_WEATHER}


def guess_hazard(*texts: str, categories: list[str] | None = None) -> HazardType:
    joined = " ".join(texts).casefold()
    for word, hazard in HAZARD_WORDS:
        if word in joined:
            return hazard
    for category in categories or []:
        if category in HAZARD_CATEGORIES:
            return HAZARD_CATEGORIES[category]
    return HazardType.OTHER


def incident_url(incident: Incident) -> str:
    return reverse("crisis:incident", args=[incident.pk])


def _event(
    incident: Incident,
    kind: IncidentEventKind,
    by: Actor,
    text: str = "",
    *,
    at: datetime | None = None,
    cap_alert: CapAlert | None = None,
    spike: SpikeAlert | None = None,
) -> IncidentEvent:
    return IncidentEvent.objects.create(
        incident=incident,
        at=at or timezone.now(),
        kind=kind,
        text=text,
        actor=by.user,
        cap_alert=cap_alert,
        spike=spike,
    )


def _audit(action: str, incident: Incident, by: Actor, **payload: object) -> None:
    record(
        f"crisis.incident.{action}",
        actor=by,
        organisation=incident.organisation,
        target=incident,
        payload={"status": incident.status, **payload},
    )


def _tell_on_duty(incident: Incident) -> None:
    # The same people as for spikes and CAP alerts: on duty with the inbox, else the admins.
    from humas.crisis.actions import _people_to_tell

    org = incident.organisation
    people = _people_to_tell(org)
    with translation.override(org.default_language):
        title = _("Incident proposed: %(title)s") % {"title": incident.title}
        body = _("Confirm or dismiss it on the incident's page.")
        notify_many(
            org,
            [
                Notice(
                    users=people,
                    kind="crisis.incident",
                    title=title[:200],
                    body=body,
                    url=incident_url(incident),
                )
            ],
            email=True,
            telegram=True,
        )


def declare_incident(
    org: Organisation,
    *,
    by: Actor,
    hazard: str,
    title: str,
    area: str = "",
    severity: str = IncidentSeverity.UNKNOWN,
    started_at: datetime | None = None,
    lead: User | None = None,
) -> Incident:
    """A person declares an incident: it is active at once."""
    with transaction.atomic():
        incident = Incident.objects.create(
            organisation=org,
            hazard=hazard,
            title=title,
            area=area,
            severity=severity,
            status=IncidentStatus.ACTIVE,
            started_at=started_at or timezone.now(),
            lead=lead,
            created_by=by.user,
        )
        _event(incident, IncidentEventKind.DECLARED, by, title)
        _audit("declared", incident, by, hazard=hazard, severity=severity, title=title)
        _became_active(incident, by)
    return incident


def pause_source(incident: Incident) -> str:
    return f"crisis.incident:{incident.pk}"


def _became_active(incident: Incident, by: Actor) -> None:
    """Promotion stops while the incident is active: publishing holds the organisation's
    scheduled posts (listed on the incident's page, released one by one by a person). The
    citizens' messages already received since it started are linked to it (after commit:
    a long incident means a long read), so the inbox lists them first."""
    from humas.crisis.incident_messages import link_all
    from humas.publishing.actions import pause_publishing

    transaction.on_commit(lambda: link_all(incident))

    pause_publishing(
        incident.organisation,
        source=pause_source(incident),
        reason=_("Incident: %(title)s") % {"title": incident.title},
        by=by,
        starts_at=incident.started_at,
    )


def _ended(incident: Incident, by: Actor) -> None:
    from humas.publishing.actions import end_pause
    from humas.publishing.models import PublishingPause

    pause = PublishingPause.objects.filter(source=pause_source(incident)).first()
    if pause is not None:
        end_pause(pause, by=by)


def _cap_severity(alert: CapAlert) -> str:
    value = alert.severity.lower()
    return value if value in IncidentSeverity.values else IncidentSeverity.UNKNOWN


def _cap_start(alert: CapAlert) -> datetime:
    info = ((alert.parsed or {}).get("infos") or [{}])[0]
    for name in ("onset", "effective"):
        value = info.get(name)
        if isinstance(value, str):
            return datetime.fromisoformat(value)
    return alert.onset or alert.sent or alert.received_at


def _cap_categories(alert: CapAlert) -> list[str]:
    info = ((alert.parsed or {}).get("infos") or [{}])[0]
    categories = info.get("categories") or info.get("category") or []
    return [str(c) for c in (categories if isinstance(categories, list) else [categories])]


def _earlier_incident(alert: CapAlert) -> Incident | None:
    """The incident proposed by an alert this one updates or cancels (directly or through a
    chain of updates)."""
    seen: set[int] = set()
    todo = list(alert.supersedes.all())
    while todo:
        earlier = todo.pop()
        if earlier.pk in seen:
            continue
        seen.add(earlier.pk)
        found = Incident.objects.filter(proposed_by_alert=earlier).first()
        if found is not None:
            return found
        todo.extend(earlier.supersedes.all())
    return None


def propose_from_cap(alert: CapAlert, now: datetime | None = None) -> Incident | None:
    """A valid, current, ``Actual`` alert for our area proposes an incident (once). An
    Update of an alert that already proposed one adds a line to that incident's timeline;
    a Cancel does too, and dismisses the incident if nobody confirmed it yet. Return the
    incident proposed or touched, or None."""
    from humas.crisis.actions import should_notify

    now = now or timezone.now()
    if not should_notify(alert, now):
        return None
    what = alert.headline or alert.event or alert.identifier
    earlier = _earlier_incident(alert) if alert.msg_type in ("Update", "Cancel") else None
    with transaction.atomic():
        if earlier is not None:
            incident = Incident.objects.select_for_update().get(pk=earlier.pk)
            if alert.msg_type == "Cancel":
                text = _("The official warning was cancelled: %(what)s") % {"what": what}
                if incident.status == IncidentStatus.PROPOSED:
                    incident.status = IncidentStatus.DISMISSED
                    incident.closed_at = now
                    incident.save(update_fields=["status", "closed_at"])
            else:
                text = _("The official warning was updated: %(what)s") % {"what": what}
            _event(incident, IncidentEventKind.CAP_ALERT, SYSTEM, text, cap_alert=alert)
            _audit("cap_alert", incident, SYSTEM, alert=alert.pk, msg_type=alert.msg_type)
            return incident
        if alert.msg_type == "Cancel" or Incident.objects.filter(proposed_by_alert=alert).exists():
            return None
        try:
            with transaction.atomic():
                incident = Incident.objects.create(
                    organisation=alert.organisation,
                    hazard=guess_hazard(
                        alert.event, alert.headline, categories=_cap_categories(alert)
                    ),
                    title=what[:200],
                    area=alert.area_desc[:500],
                    severity=_cap_severity(alert),
                    status=IncidentStatus.PROPOSED,
                    started_at=_cap_start(alert),
                    proposed_by_alert=alert,
                )
        except IntegrityError:
            # Another worker proposed it first (the alert is unique on the incident).
            return None
        _event(incident, IncidentEventKind.PROPOSED, SYSTEM, what, cap_alert=alert)
        _audit("proposed", incident, SYSTEM, alert=alert.pk, hazard=incident.hazard)
        transaction.on_commit(lambda: _tell_on_duty(incident))
    return incident


def propose_from_spike(spike: SpikeAlert, *, by: Actor) -> Incident:
    """A person thinks a spike is an incident: propose one (once per spike)."""
    from humas.crisis.actions import describe

    with transaction.atomic():
        locked = SpikeAlert.objects.select_for_update().get(pk=spike.pk)
        if Incident.objects.filter(proposed_by_spike=locked).exists():
            raise ActionError(_("This spike already proposed an incident."))
        what = describe(locked)
        incident = Incident.objects.create(
            organisation=locked.organisation,
            hazard=guess_hazard(locked.key),
            title=what[:200],
            area=locked.key if locked.key_kind == "place" else "",
            severity=IncidentSeverity.UNKNOWN,
            status=IncidentStatus.PROPOSED,
            started_at=locked.window_start,
            proposed_by_spike=locked,
            created_by=by.user,
        )
        _event(incident, IncidentEventKind.PROPOSED, by, what, spike=locked)
        _audit("proposed", incident, by, spike=locked.pk, hazard=incident.hazard)
        transaction.on_commit(lambda: _tell_on_duty(incident))
    return incident


def _locked(incident: Incident, *allowed: str) -> Incident:
    locked = Incident.objects.select_for_update().get(pk=incident.pk)
    if allowed and locked.status not in allowed:
        raise ActionError(
            _("This incident is %(status)s.") % {"status": locked.get_status_display()}
        )
    return locked


def confirm_incident(incident: Incident, *, by: Actor) -> Incident:
    with transaction.atomic():
        locked = _locked(incident, IncidentStatus.PROPOSED)
        locked.status = IncidentStatus.ACTIVE
        locked.save(update_fields=["status"])
        _event(locked, IncidentEventKind.CONFIRMED, by)
        _audit("confirmed", locked, by)
        _became_active(locked, by)
    return locked


def dismiss_incident(incident: Incident, *, by: Actor, reason: str = "") -> Incident:
    with transaction.atomic():
        locked = _locked(incident, IncidentStatus.PROPOSED)
        locked.status = IncidentStatus.DISMISSED
        locked.closed_at = timezone.now()
        locked.save(update_fields=["status", "closed_at"])
        _event(locked, IncidentEventKind.DISMISSED, by, reason)
        _audit("dismissed", locked, by, reason=reason)
    return locked


def set_lead(incident: Incident, *, by: Actor, lead: User | None) -> Incident:
    """The incident lead must be an active member of the incident's organisation."""
    with transaction.atomic():
        locked = _locked(incident, IncidentStatus.PROPOSED, IncidentStatus.ACTIVE)
        if (
            lead is not None
            and not Membership.objects.filter(
                organisation=locked.organisation, user=lead, is_active=True
            ).exists()
        ):
            raise ActionError(_("The lead must be a member of the organisation."))
        locked.lead = lead
        locked.save(update_fields=["lead"])
        _event(locked, IncidentEventKind.LEAD_CHANGED, by, lead.email if lead else "")
        _audit("lead_changed", locked, by, lead=lead.pk if lead else None)
    return locked


def add_note(incident: Incident, *, by: Actor, text: str) -> IncidentEvent:
    text = text.strip()
    if not text:
        raise ActionError(_("A note needs a text."))
    with transaction.atomic():
        locked = _locked(incident)
        event = _event(locked, IncidentEventKind.NOTE, by, text[:5000])
        _audit("note", locked, by, event=event.pk)
    return event


def close_incident(incident: Incident, *, by: Actor) -> Incident:
    with transaction.atomic():
        locked = _locked(incident, IncidentStatus.ACTIVE)
        locked.status = IncidentStatus.CLOSED
        locked.closed_at = timezone.now()
        locked.save(update_fields=["status", "closed_at"])
        _event(locked, IncidentEventKind.CLOSED, by)
        _audit("closed", locked, by)
        _ended(locked, by)
    return locked
