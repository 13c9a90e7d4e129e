"""An incident's messages: which citizens' messages belong to it, and the inbox listing their
conversations first while it is active (``docs/incidents.md``, "The incident's messages
first").

**The rule.** A citizen's message (inbound, not from a blocked citizen, not labelled spam)
written between the incident's start and its end (or now) belongs to the incident when:

1. it names a place of the incident's area (``area:<place>``), see :func:`incident_terms`;
2. otherwise, it is an emergency (``emergency``): labelled category "emergency" or urgency
   "critical", a person's correction winning over the triage, as the inbox decides;
3. otherwise, and only when the incident's area gives no place at all, it names the
   incident's hazard (``hazard:<word>``): without a place, "banjir" is the best clue there
   is; with one, "banjir" alone would tie every flood complaint of the city to the incident.

The first reason that holds is stored in ``IncidentMessage.matched_on``. Matching ignores
case and works on whole words: "coblong" is found in "Banjir di COBLONG!" but not in
"coblongan". A hazard word also matches with the usual Indonesian affixes ("kebanjiran",
"banjirnya", "gempanya"), since that is how people write about what happened to them.

**When.** :func:`link_all` reads every message of the incident once, when it becomes active
(the declaring and confirming actions call it). The ``crisis.link_incident_messages`` job
then reads, every 30 seconds, only the messages that *arrived* in the last
:data:`RECENT` (10 minutes), whenever they were written: a channel's poll bringing in a
backlog after an outage is still linked. A message is linked once, however often it is read.
"""

from __future__ import annotations

import logging
import re
import unicodedata
from datetime import datetime, timedelta
from typing import Any

from django.db import transaction
from django.db.models import Exists, OuterRef, Q, QuerySet
from django.utils import timezone
from django.utils.translation import gettext as _

from humas.accounts import orgcache
from humas.accounts.models import Membership, Organisation
from humas.channels.models import InboundEvent
from humas.crisis.access import INCIDENT_VIEW
from humas.crisis.detection import watched
from humas.crisis.incidents import HAZARD_WORDS, incident_url
from humas.crisis.models import Incident, IncidentMessage, IncidentStatus
from humas.inbox.first import Section
from humas.inbox.models import Category, Conversation, Message, Status, Urgency

logger = logging.getLogger(__name__)

#: How far back (by arrival) the periodic job reads; several runs overlap, so a slow run or a
#: late commit loses nothing.
RECENT = timedelta(minutes=10)
#: Messages read per query: the texts are held in memory one batch at a time.
BATCH = 1000
#: Place names shorter than this are left out: "Kec. Ciu" would be found in too many words.
MIN_PLACE_LENGTH = 4

# "Kecamatan Coblong" is written "coblong" by the people who live there.
_PREFIX = re.compile(
    r"^(?:(?:kecamatan|kabupaten|kelurahan|kota|desa)\s+|(?:kec|kab|kel)(?:\.\s*|\s+))"
)
_SEPARATORS = re.compile(r"[,;()/\n]+|\s+(?:dan|and)\s+")
# The prefixes and suffixes a hazard word takes when people write about it ("kebanjiran").
_HAZARD_AFFIXES = (r"(?:ke|ter|di)?", r"(?:an|nya)?")


def _fold(text: str) -> str:
    return " ".join(unicodedata.normalize("NFKC", text).casefold().split())


def area_places(area: str) -> list[str]:
    """The place names of an incident's area, lower case, without their "Kecamatan",
    "Kab." or "Kota" (one prefix: "Kota Baru" in "Kec. Kota Baru" stays whole)."""
    places: list[str] = []
    for part in _SEPARATORS.split(_fold(area)):
        name = _PREFIX.sub("", part.strip(" .-")).strip(" .-")
        if len(name) >= MIN_PLACE_LENGTH and name not in places:
            places.append(name)
    return places


def incident_terms(incident: Incident) -> list[tuple[str, str]]:
    """The words that tie a message to ``incident``: ``("area", place)`` for each place of
    its area, then ``("hazard", word)`` for each word of its hazard in
    :data:`~humas.crisis.incidents.HAZARD_WORDS`."""
    terms = [("area", place) for place in area_places(incident.area)]
    terms += [("hazard", word) for word, hazard in HAZARD_WORDS if hazard == incident.hazard]
    return terms


def _pattern(kind: str, word: str) -> re.Pattern[str]:
    # A place of several words matches across any run of spaces ("bandung  wetan").
    body = r"\s+".join(re.escape(part) for part in word.split())
    if kind == "hazard":
        body = _HAZARD_AFFIXES[0] + body + _HAZARD_AFFIXES[1]
    return re.compile(rf"(?<!\w){body}(?!\w)")


def _label(message: Message, field: str) -> Any:
    corrections = message.corrections or {}
    if field in corrections:
        return corrections[field]
    return (message.triage or {}).get(field)


def _is_emergency(message: Message) -> bool:
    return (
        _label(message, "category") == Category.EMERGENCY
        or _label(message, "urgency") == Urgency.CRITICAL
    )


class Matcher:
    """The rule of the module docstring for one incident, compiled once per run."""

    def __init__(self, incident: Incident) -> None:
        terms = incident_terms(incident)
        self.places = [(w, _pattern(k, w)) for k, w in terms if k == "area"]
        # Hazard words count only for an incident without places (see the module docstring).
        self.hazards = [] if self.places else [(w, _pattern(k, w)) for k, w in terms]

    def reason(self, message: Message) -> str | None:
        text = _fold(message.text)
        for word, pattern in self.places:
            if pattern.search(text):
                return f"area:{word}"[:120]
        if _is_emergency(message):
            return "emergency"
        for word, pattern in self.hazards:
            if pattern.search(text):
                return f"hazard:{word}"[:120]
        return None


def _arrived_after(since: datetime) -> int:
    """The id of the newest event (of any organisation) that arrived before ``since``:
    events are numbered in arrival order, so those after it arrived since. Walking the
    primary key back from the newest event stops at the first one old enough, so the cost is
    the traffic since ``since``, not the table (``received_at`` has no index of its own)."""
    before = (
        InboundEvent.objects.filter(received_at__lt=since)
        .order_by("-pk")
        .values_list("pk", flat=True)
        .first()
    )
    return before or 0


def _unlinked(incident: Incident, since: datetime | None) -> QuerySet[Message]:
    rows = watched(incident.organisation).filter(created_at__gte=incident.started_at)
    if incident.closed_at is not None:
        rows = rows.filter(created_at__lte=incident.closed_at)
    if since is not None:
        rows = rows.filter(event_id__gt=_arrived_after(since))
    linked = IncidentMessage.objects.filter(incident=incident, message=OuterRef("pk"))
    return rows.exclude(Exists(linked))


def link_messages(
    incident: Incident, *, since: datetime | None = None, limit: int | None = 5000
) -> int:
    """Link the incident's messages not linked yet (the rule of the module docstring); return
    how many were linked.

    ``since``: read only the messages that arrived from then on (by arrival, whenever they
    were written); None reads the incident's whole span. At most ``limit`` messages are read
    (None: no limit), newest first, so that a storm of messages delays nothing: the newest
    are the ones a responder is waiting for.

    No audit entry: the links are derived from the messages by a fixed rule, nobody decided
    anything, and a run every 30 seconds would drown the audit log. Two runs at once cannot
    link a message twice (the database refuses; the count may then be one too high).
    """
    matcher = Matcher(incident)
    rows = _unlinked(incident, since).only("pk", "created_at", "text", "triage", "corrections")
    read = linked = 0
    after: tuple[datetime, int] | None = None
    while limit is None or read < limit:
        size = BATCH if limit is None else min(BATCH, limit - read)
        page = rows
        if after is not None:
            page = page.filter(Q(created_at__lt=after[0]) | Q(created_at=after[0], pk__lt=after[1]))
        batch = list(page.order_by("-created_at", "-pk")[:size])
        if not batch:
            break
        read += len(batch)
        links = []
        for message in batch:
            reason = matcher.reason(message)
            if reason is not None:
                links.append(IncidentMessage(incident=incident, message=message, matched_on=reason))
        with transaction.atomic():
            IncidentMessage.objects.bulk_create(links, ignore_conflicts=True)
        linked += len(links)
        if len(batch) < size:
            break
        after = (batch[-1].created_at, batch[-1].pk)
    return linked


def link_all(incident: Incident) -> int:
    """Every message of the incident's span, read once: when the incident becomes active."""
    return link_messages(incident, limit=None)


def link_recent(now: datetime | None = None) -> int:
    """The job: :func:`link_messages` for every active incident, over the messages that
    arrived in the last :data:`RECENT`. One incident failing does not keep the others from
    being linked."""
    since = (now or timezone.now()) - RECENT
    linked = 0
    for incident in Incident.objects.filter(status=IncidentStatus.ACTIVE).order_by("pk"):
        try:
            linked += link_messages(incident, since=since)
        except Exception:
            logger.exception("linking messages of incident %s failed", incident.pk)
    return linked


# --- the inbox ------------------------------------------------------------------------------


def first_conversations(
    organisation: Organisation, *, limit: int = 20, unit_id: int | None = None
) -> list[tuple[Incident, list[Conversation]]]:
    """Each active incident of ``organisation`` (newest first) with up to ``limit`` of its
    linked conversations that are still open, the most recently written to first. Spam and
    blocked citizens are left out, as in the inbox's default list. ``unit_id``: only the
    conversations routed to that unit (a unit agent's view)."""
    found: list[tuple[Incident, list[Conversation]]] = []

    def active_incidents() -> QuerySet[Incident]:
        return Incident.objects.filter(organisation=organisation, status=IncidentStatus.ACTIVE)

    # Asked on every view of the inbox, and almost always "none": each process keeps the
    # answer until an incident of the organisation changes (humas.accounts.orgcache).
    if not orgcache.cached(
        organisation,
        ("crisis.active_incidents",),
        lambda: tuple(active_incidents().values_list("pk", flat=True)),
    ):
        return found
    incidents = active_incidents()
    for incident in incidents.order_by("-started_at", "-pk"):
        linked = IncidentMessage.objects.filter(incident=incident).values(
            "message__conversation_id"
        )
        rows = (
            Conversation.objects.filter(
                organisation=organisation, status=Status.OPEN, pk__in=linked
            )
            .exclude(category=Category.SPAM)
            .exclude(contact__blocked_at__isnull=False)
            .order_by("-last_message_at", "-pk")
        )
        if unit_id is not None:
            rows = rows.filter(unit_id=unit_id)
        found.append((incident, list(rows[:limit])))
    return found


def inbox_sections(organisation: Organisation, membership: Membership) -> list[Section]:
    """The provider of :mod:`humas.inbox.first`: one section per active incident, linking
    to the incident's page for those who may open it."""
    whole = membership.has_perm("inbox.view")
    if not whole and membership.unit_id is None:
        return []
    may_open = any(membership.has_perm(perm) for perm in INCIDENT_VIEW)
    return [
        Section(
            title=_("Active incident: %(title)s") % {"title": incident.title},
            url=incident_url(incident) if may_open else None,
            conversations=conversations,
        )
        for incident, conversations in first_conversations(
            organisation, unit_id=None if whole else membership.unit_id
        )
    ]
