"""Named actions for spike alerts: raising one (with the on-duty members told) and
acknowledging it, each in a transaction with one audit entry.

A running alert's figures are refreshed by every run that finds it still spiking, and it is
ended once the traffic has been ordinary for :data:`COOL_DOWN`; neither is audited (they
record what the data showed; nobody decided them), and neither tells anybody again.
"""

from __future__ import annotations

import logging
from datetime import datetime

from django.db import transaction
from django.db.models import Q
from django.urls import reverse
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from humas.accounts.actions import ActionError, Notice, notify_many
from humas.accounts.audit import Actor, record
from humas.accounts.models import Membership, Organisation, User
from humas.accounts.roles import Role
from humas.crisis import spikes
from humas.crisis.detection import Spike, find_spikes
from humas.crisis.models import CapAlert, CapFeed, CrisisArea, SpikeAlert, SpikeSignal

logger = logging.getLogger(__name__)

#: An alert stays active this long after its last spiking window, so a spike that dips for
#: one run and comes back is still the same alert (and nobody is called twice).
COOL_DOWN = spikes.WINDOW
#: The messages kept with one alert: enough to see what happened, bounded in a storm.
MAX_MESSAGES = 200

SYSTEM = Actor.system("crisis")


def alert_url(alert: SpikeAlert) -> str:
    return reverse("crisis:spike", args=[alert.pk])


def _people_to_tell(org: Organisation) -> list[User]:
    """The on-duty members who may read the alert page; the admins when there are none
    (as for emergencies in the inbox)."""
    members = list(
        Membership.objects.filter(organisation=org, is_active=True, user__is_active=True)
        .select_related("user")
        .order_by("user__email")
    )
    on_duty = [m.user for m in members if m.on_duty and m.has_perm("inbox.view")]
    return on_duty or [m.user for m in members if m.role == Role.ADMIN]


def describe(alert: SpikeAlert) -> str:
    """ "Negative messages about “banjir”", in the active language."""
    signal = SpikeSignal(alert.signal).label
    if not alert.key:
        return str(signal)
    return _("%(signal)s about “%(key)s”") % {"signal": signal, "key": alert.key}


def _notice(alert: SpikeAlert, people: list[User]) -> Notice:
    # Figures only, no citizens' texts: notifications and e-mails outlive a citizen's
    # erasure (which rewrites only those linking to the conversation), and Telegram messages
    # leave the installation. The page behind the link shows the messages.
    title = _("Spike: %(what)s") % {"what": describe(alert)}
    body = _(
        "%(count)s messages in the last %(minutes)s minutes; usually %(expected)s at this "
        "hour. Open the alert to see the messages."
    ) % {
        "count": alert.count,
        "minutes": int(spikes.WINDOW.total_seconds() // 60),
        "expected": f"{alert.expected:.1f}",
    }
    return Notice(users=people, kind="crisis.spike", title=title, body=body, url=alert_url(alert))


def raise_alert(org: Organisation, spike: Spike, *, now: datetime) -> SpikeAlert:
    """A new alert for a (signal, key) that has none active; tell the on-duty members (in
    humas, by e-mail and on Telegram, after commit)."""
    with transaction.atomic():
        alert = SpikeAlert.objects.create(
            organisation=org,
            signal=spike.signal,
            key=spike.key[:100],
            key_kind=spike.kind,
            window_start=now - spikes.WINDOW,
            window_end=now,
            count=spike.verdict.count,
            expected=spike.verdict.expected,
            p_value=spike.verdict.p_value,
            peak_count=spike.verdict.count,
        )
        alert.messages.add(*spike.message_ids[:MAX_MESSAGES])
        people = _people_to_tell(org)
        with translation.override(org.default_language):
            notify_many(org, [_notice(alert, people)], email=True, telegram=True)
        record(
            "crisis.spike.raised",
            actor=SYSTEM,
            organisation=org,
            target=alert,
            payload={
                "signal": alert.signal,
                "key": alert.key,
                "kind": alert.key_kind,
                "count": alert.count,
                "expected": round(alert.expected, 3),
                "p_value": alert.p_value,
                "window": [alert.window_start, alert.window_end],
                "told": sorted(u.pk for u in people),
            },
        )
    return alert


def _continue(alert: SpikeAlert, spike: Spike, *, now: datetime) -> None:
    alert.window_end = now
    alert.count = spike.verdict.count
    alert.expected = spike.verdict.expected
    alert.p_value = spike.verdict.p_value
    alert.peak_count = max(alert.peak_count, spike.verdict.count)
    alert.save(update_fields=["window_end", "count", "expected", "p_value", "peak_count"])
    room = MAX_MESSAGES - alert.messages.count()
    if room > 0:
        known = set(alert.messages.values_list("pk", flat=True))
        alert.messages.add(*[pk for pk in spike.message_ids if pk not in known][:room])


def detect_spikes(org: Organisation, now: datetime | None = None) -> list[SpikeAlert]:
    """One run of the rule for ``org``: raise an alert for each new spike, refresh the
    active ones still spiking, end those quiet for :data:`COOL_DOWN`. Return the new
    alerts."""
    now = now or timezone.now()
    found = find_spikes(org, now)
    raised = []
    with transaction.atomic():
        # Locked: two runs at once (a job re-run after a lost lease) must not both raise.
        active = {
            (a.signal, a.key): a
            for a in SpikeAlert.objects.select_for_update().filter(organisation=org, is_active=True)
        }
        for spike in found:
            alert = active.pop((spike.signal, spike.key[:100]), None)
            if alert is None:
                raised.append(raise_alert(org, spike, now=now))
            else:
                _continue(alert, spike, now=now)
        quiet = [a.pk for a in active.values() if a.window_end <= now - COOL_DOWN]
        if quiet:
            SpikeAlert.objects.filter(pk__in=quiet).update(is_active=False, ended_at=now)
    return raised


def acknowledge_alert(alert: SpikeAlert, *, by: Actor) -> SpikeAlert:
    """Someone has seen the alert and is on it. Once only."""
    with transaction.atomic():
        locked = SpikeAlert.objects.select_for_update().get(pk=alert.pk)
        if locked.acknowledged_at is not None:
            raise ActionError(_("This alert was already acknowledged."))
        locked.acknowledged_at = timezone.now()
        locked.acknowledged_by = by.user
        locked.save(update_fields=["acknowledged_at", "acknowledged_by"])
        record(
            "crisis.spike.acknowledged",
            actor=by,
            organisation=locked.organisation,
            target=locked,
            payload={"signal": locked.signal, "key": locked.key},
        )
    return locked


def organisations_to_watch(now: datetime) -> list[Organisation]:
    """Those with a message in the window, and those with an alert still active (to end
    it when the traffic is back to normal)."""
    from humas.inbox.models import Conversation

    recent = Conversation.objects.filter(last_message_at__gte=now - spikes.WINDOW).values(
        "organisation_id"
    )
    alerting = SpikeAlert.objects.filter(is_active=True).values("organisation_id")
    return list(Organisation.objects.filter(Q(pk__in=recent) | Q(pk__in=alerting)).order_by("pk"))


def detect_all(now: datetime | None = None) -> int:
    """:func:`detect_spikes` for every organisation to watch; return how many alerts were
    raised. One organisation failing does not keep the others from being watched."""
    now = now or timezone.now()
    raised = 0
    for org in organisations_to_watch(now):
        try:
            raised += len(detect_spikes(org, now))
        except Exception:
            logger.exception("detecting spikes for organisation %s failed", org.pk)
    return raised


# --- CAP feeds and the organisation's area (see humas/crisis/feeds.py) -----------------------


def cap_alert_url(alert: CapAlert) -> str:
    return reverse("crisis:cap_alert", args=[alert.pk])


def save_feed(
    org: Organisation, *, by: Actor, feed: CapFeed | None = None, **fields: object
) -> CapFeed:
    """Create a CAP feed, or change one (``feed``). A changed address is polled afresh."""
    with transaction.atomic():
        created = feed is None
        if feed is None:
            feed = CapFeed(organisation=org)
        else:
            feed = CapFeed.objects.select_for_update().get(pk=feed.pk, organisation=org)
        if "url" in fields and fields["url"] != feed.url:
            feed.etag = feed.last_modified = feed.last_error = ""
            feed.last_polled_at = None
        for name, value in fields.items():
            setattr(feed, name, value)
        feed.full_clean()
        feed.save()
        record(
            "crisis.cap_feed.created" if created else "crisis.cap_feed.changed",
            actor=by,
            organisation=org,
            target=feed,
            payload={
                "name": feed.name,
                "url": feed.url,
                "kind": feed.kind,
                "enabled": feed.enabled,
                "min_interval": feed.min_interval,
            },
        )
    return feed


def save_area(
    org: Organisation,
    *,
    by: Actor,
    place_names: list[str],
    polygon: list[tuple[float, float]],
) -> CrisisArea:
    """Set the organisation's own area. Alerts already received keep their verdict; the
    area decides for the alerts received from now on."""
    with transaction.atomic():
        area, _created = CrisisArea.objects.select_for_update().get_or_create(organisation=org)
        area.place_names = place_names
        area.polygon = [[lat, lon] for lat, lon in polygon]
        area.save()
        record(
            "crisis.area.changed",
            actor=by,
            organisation=org,
            target=area,
            payload={"place_names": area.place_names, "polygon_points": len(area.polygon)},
        )
    return area


def should_notify(alert: CapAlert, now: datetime) -> bool:
    """Valid, real (``Actual``, not an exercise or a test), not expired, and ours: in our
    area, or an Update/Cancel of an alert people were already told about."""
    if alert.problems or alert.status != "Actual" or alert.expired_on_arrival:
        return False
    if alert.expires is not None and alert.expires <= now:
        return False
    return alert.matches_area or alert.supersedes.filter(notified_at__isnull=False).exists()


def _cap_notice(alert: CapAlert, people: list[User], follows: bool) -> Notice:
    what = alert.headline or alert.event or alert.identifier
    if alert.msg_type == "Cancel":
        title = _("Official warning cancelled: %(what)s") % {"what": what}
    elif follows:
        title = _("Official warning updated: %(what)s") % {"what": what}
    else:
        title = _("Official warning for our area: %(what)s") % {"what": what}
    body = _("%(event)s (%(severity)s, %(urgency)s). Area: %(area)s") % {
        "event": alert.event or "-",
        "severity": alert.severity or "-",
        "urgency": alert.urgency or "-",
        "area": alert.area_desc or "-",
    }
    return Notice(
        users=people, kind="crisis.cap", title=title, body=body[:1000], url=cap_alert_url(alert)
    )


def alert_received(alert: CapAlert, now: datetime | None = None) -> bool:
    """Tell the on-duty members about a new CAP alert that concerns us, once; return
    whether they were told. Alerts that should not be acted on (invalid, expired, another
    area, an exercise) are only stored."""
    now = now or timezone.now()
    with transaction.atomic():
        locked = CapAlert.objects.select_for_update().get(pk=alert.pk)
        if locked.notified_at is not None or not should_notify(locked, now):
            return False
        follows = locked.supersedes.filter(notified_at__isnull=False).exists()
        org = locked.organisation
        people = _people_to_tell(org)
        with translation.override(org.default_language):
            notify_many(org, [_cap_notice(locked, people, follows)], email=True, telegram=True)
        locked.notified_at = now
        locked.save(update_fields=["notified_at"])
        alert.notified_at = now
        record(
            "crisis.cap.notified",
            actor=SYSTEM,
            organisation=org,
            target=locked,
            payload={
                "identifier": locked.identifier,
                "sender": locked.sender,
                "msg_type": locked.msg_type,
                "follows": follows,
                "told": sorted(u.pk for u in people),
            },
        )
        transaction.on_commit(lambda: propose_incident(locked, now))
    return True


def propose_incident(alert: CapAlert, now: datetime | None = None) -> None:
    """Propose an incident from a CAP alert that concerns us (or add the Update/Cancel to
    the incident it already proposed; see :func:`humas.crisis.incidents.propose_from_cap`).
    Called after commit for every notified alert. A broadcast draft from the template
    matching the alert's ``event`` belongs here too once templates exist."""
    from humas.crisis.incidents import propose_from_cap

    try:
        propose_from_cap(alert, now)
    except Exception:
        # The alert is stored and people were told; a failed proposal must not undo that.
        logger.exception("proposing an incident from CAP alert %s failed", alert.pk)
