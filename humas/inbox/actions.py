"""Named actions for the inbox: ingest, reply, note, assign, route, relabel, resolve, reopen.

Every action a person takes runs in one transaction and writes one audit entry. Ingestion
writes one entry per batch of events (a poll page or a webhook delivery), not one per
message: the messages themselves are the record, and the audit chain's head is a lock every
worker queues on.
"""

from __future__ import annotations

import functools
import logging
import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.db import transaction
from django.urls import reverse
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from humas.accounts.actions import ActionError, Notice, notify, notify_many
from humas.accounts.audit import Actor, record
from humas.accounts.models import Membership, Organisation, Unit, User
from humas.accounts.roles import Role
from humas.channels.actions import reply_to_event
from humas.channels.models import ChannelAccount, ChannelPost, InboundEvent
from humas.channels.providers.base import EventKind, PostContent, ProviderError
from humas.inbox import search
from humas.inbox.models import (
    URGENCY_RANK,
    CannedReply,
    Category,
    Contact,
    Conversation,
    Direction,
    Language,
    Message,
    Note,
    SendStatus,
    Sentiment,
    Status,
    Urgency,
    correction_source,
)
from humas.lib.bulk import insert_rows, update_rows
from humas.lib.workdays import WorkCalendar
from humas.publishing.models import MediaAsset

logger = logging.getLogger(__name__)

#: Events that are not someone writing to the agency: no conversation, no answer due.
NOT_MESSAGES = frozenset({EventKind.REACTION, EventKind.REPOST, EventKind.ARTICLE})

#: Thread key of a citizen's direct messages with a channel (one running conversation).
DIRECT = "dm"

PREVIEW_LENGTH = 300


@dataclass(frozen=True)
class Deadlines:
    """How long a category may wait: the first answer in working hours, the resolution in
    working days (``None``: no such deadline)."""

    first_response_hours: float | None
    resolution_days: int | None
    #: Counted on the clock, nights and holidays included (an emergency does not wait for
    #: Monday morning).
    round_the_clock: bool = False


#: Per category. The resolution follows SP4N-LAPOR!'s published rule (closed within 10
#: working days); UU 14/2008 also gives information requests 10 working days.
DEADLINES: dict[str, Deadlines] = {
    Category.COMPLAINT: Deadlines(8, 10),
    Category.INFORMATION_REQUEST: Deadlines(8, 10),
    Category.ASPIRATION: Deadlines(8, 10),
    Category.EMERGENCY: Deadlines(1, 1, round_the_clock=True),
    Category.APPRECIATION: Deadlines(16, None),
    Category.SPAM: Deadlines(None, None),
    Category.OTHER: Deadlines(8, 10),
}

#: How long before a deadline the inbox starts warning about it.
WARN_BEFORE = timedelta(hours=2)


def calendar_for(org: Organisation) -> WorkCalendar:
    return _calendar(org.time_zone)


@functools.lru_cache(maxsize=16)
def _calendar(time_zone: str) -> WorkCalendar:
    # One per zone, kept: a calendar remembers which days are working days, and ingest asks
    # about the same few days a dozen times per message.
    return WorkCalendar(time_zone)


def deadlines_for(
    org: Organisation, category: str, start: datetime
) -> tuple[datetime | None, datetime | None]:
    """(first answer due, resolution due) for a conversation of ``category`` from ``start``."""
    rule = DEADLINES.get(category, DEADLINES[Category.OTHER])
    if rule.round_the_clock:
        return (
            start + timedelta(hours=rule.first_response_hours)
            if rule.first_response_hours is not None
            else None,
            start + timedelta(days=rule.resolution_days)
            if rule.resolution_days is not None
            else None,
        )
    calendar = calendar_for(org)
    first = (
        calendar.add_working_hours(start, rule.first_response_hours)
        if rule.first_response_hours is not None
        else None
    )
    resolution = (
        calendar.add_working_days(start, rule.resolution_days)
        if rule.resolution_days is not None
        else None
    )
    return first, resolution


def _locked(conversation: Conversation) -> Conversation:
    fresh = Conversation.objects.select_for_update().get(pk=conversation.pk)
    conversation.__dict__.update({k: v for k, v in fresh.__dict__.items() if not k.startswith("_")})
    return conversation


# --- ingesting ---------------------------------------------------------------------------


def clean_text(text: str) -> str:
    """Text every database stores: no NUL (PostgreSQL refuses it), no lone surrogates."""
    return text.replace("\x00", "").encode("utf-8", "replace").decode("utf-8")


def _triage(texts: list[str], organisation: Organisation | None = None) -> list[dict[str, Any]]:
    """The triage of each text, in one call (with the organisation's own model when it has
    trained one); empty dicts when the engine failed.

    A broken classifier must not keep citizens' messages out of the inbox: they come in
    unlabelled and marked for review instead.
    """
    from humas.triage import classify_many

    try:
        return [t.as_dict() for t in classify_many(texts, organisation=organisation)]
    except Exception:
        logger.exception("triage failed for %d messages; storing them unlabelled", len(texts))
        return [{} for _text in texts]


def triage_labels(text: str, organisation: Organisation | None = None) -> dict[str, str]:
    """Category, urgency and language the triage gives ``text``, as the inbox would store
    them (for trying routing rules on a sample; nothing is stored)."""
    (triage,) = _triage([clean_text(text)], organisation)
    return {
        "category": _choice(triage.get("category"), Category, Category.OTHER),
        "urgency": _choice(triage.get("urgency"), Urgency, Urgency.NORMAL),
        "language": _choice(triage.get("language"), Language, Language.UNKNOWN),
    }


def _masked(text: str, triage: dict[str, Any]) -> str:
    spans = triage.get("personal_data") or []
    if not spans:
        return ""
    from humas.triage import mask

    return str(mask(text, spans))


_VALUES: dict[type[Any], frozenset[str]] = {}


def _values(choices: type[Any]) -> frozenset[str]:
    # ``Choices.values`` builds a new list on every call: per message and field at ingest.
    found = _VALUES.get(choices)
    if found is None:
        found = _VALUES[choices] = frozenset(choices.values)
    return found


def _choice(value: Any, choices: type[Any], default: str) -> str:
    return value if isinstance(value, str) and value in _values(choices) else default


def _contact_key(event: InboundEvent) -> str:
    return (event.author_id or event.author_handle)[:255]


def _thread_key(event: InboundEvent) -> str:
    if event.kind == EventKind.DIRECT_MESSAGE:
        return DIRECT
    return (event.thread_id or event.external_id)[:500]


def _contacts(channel: ChannelAccount, events: list[InboundEvent]) -> dict[str, Contact]:
    org_id, network = channel.organisation_id, channel.network
    wanted = {_contact_key(e): e for e in events}
    found = {
        c.external_id: c
        for c in Contact.objects.filter(
            organisation_id=org_id, network=network, external_id__in=list(wanted)
        )
    }
    # Sorted: two workers storing the same citizens (one person writing to two channels)
    # then take the unique index's locks in the same order instead of deadlocking.
    missing = sorted(key for key in wanted if key not in found)
    if missing:
        written = insert_rows(
            [
                Contact(
                    organisation_id=org_id,
                    network=network,
                    external_id=key,
                    handle=wanted[key].author_handle[:255],
                    display_name=wanted[key].author_name[:255],
                )
                for key in missing
            ],
            # A webhook and a poll storing the same citizen at once: one row, no error.
            ignore_conflicts=True,
        )
        found.update({c.external_id: c for c in written or []})
        # Written meanwhile by another worker (or, off PostgreSQL, not told): read back.
        unknown = [key for key in missing if key not in found]
        if unknown:
            found.update(
                {
                    c.external_id: c
                    for c in Contact.objects.filter(
                        organisation_id=org_id, network=network, external_id__in=unknown
                    )
                }
            )
    renamed = []
    for key, contact in found.items():
        event = wanted[key]
        if (event.author_handle and event.author_handle[:255] != contact.handle) or (
            event.author_name and event.author_name[:255] != contact.display_name
        ):
            contact.handle = event.author_handle[:255] or contact.handle
            contact.display_name = event.author_name[:255] or contact.display_name
            renamed.append(contact)
    if renamed:
        renamed.sort(key=lambda c: c.pk)  # the same lock order in every worker, as above
        update_rows(renamed, ["handle", "display_name"])
    return found


def _apply_triage(
    conversation: Conversation,
    triage: dict[str, Any],
    at: datetime,
    org: Organisation,
    *,
    new: bool,
) -> None:
    """Copy the labels of a newly triaged message onto its conversation (``new``: the
    message opens it, so no deadline moves)."""
    if not triage:
        conversation.needs_review = True
        return
    category = _choice(triage.get("category"), Category, Category.OTHER)
    urgency = _choice(triage.get("urgency"), Urgency, Urgency.NORMAL)
    sentiment = _choice(triage.get("sentiment"), Sentiment, Sentiment.NEUTRAL)
    conversation.language = _choice(triage.get("language"), Language, Language.UNKNOWN)
    abusive = bool(triage.get("abusive"))
    if conversation.labels_corrected:
        # A person's judgement stands (abuse marked by hand stays marked); only a more urgent
        # message raises the urgency, and only an abusive one adds the abuse flag.
        conversation.abusive = conversation.abusive or abusive
        if URGENCY_RANK[Urgency(urgency)] < URGENCY_RANK[Urgency(conversation.urgency)]:
            conversation.urgency = urgency
        return
    conversation.abusive = abusive
    changed_category = not new and category != conversation.category
    conversation.category = category
    conversation.urgency = urgency
    conversation.sentiment = sentiment
    conversation.needs_review = bool(triage.get("needs_review"))
    if changed_category:
        # E.g. a thread that turns into an emergency: its clock starts with that message.
        first, resolution = deadlines_for(org, category, at)
        if conversation.responded_at is None:
            conversation.first_response_due = first
        conversation.resolution_due = resolution


def ingest_events(channel: ChannelAccount, events: Sequence[InboundEvent]) -> list[Message]:
    """Triage newly stored events and thread each into a conversation; return the messages.

    A message joins the latest open conversation of the same citizen in the same thread
    (for direct messages: with the same channel); otherwise it opens a new conversation
    with deadlines from the working calendar. Events already ingested are skipped, so a
    second call with the same rows adds nothing.

    The whole batch is written with a fixed number of queries (contacts, open
    conversations, new conversations, changed conversations, messages, audit), not a few
    per message: a poll page or webhook delivery of hundreds of messages is one round of
    writes (see "Inbox: ingest" in docs/benchmarks.md).
    """
    candidates = [e for e in events if e.kind not in NOT_MESSAGES]
    if not candidates:
        return []
    done = set(Message.objects.filter(event__in=candidates).values_list("event_id", flat=True))
    fresh = sorted((e for e in candidates if e.pk not in done), key=lambda e: (e.created_at, e.pk))
    if not fresh:
        return []
    org = channel.organisation
    texts = [clean_text(e.text) for e in fresh]
    triages = _triage(texts, org)
    created: list[Message] = []
    opened: list[Conversation] = []
    changed: list[Conversation] = []
    from humas.inbox import routing

    rules = routing.active_rules(org)
    # Keyed by id(): new conversations have no primary key until they are written at the end.
    routed: dict[int, tuple[Conversation, dict[str, Any]]] = {}
    with transaction.atomic():
        contacts = _contacts(channel, fresh)
        keys = [(_thread_key(e), contacts[_contact_key(e)].pk) for e in fresh]
        threads = _open_conversations(channel, keys, contacts.values())
        # Every conversation the batch touched, in the order it first did.
        touched: dict[int, Conversation] = {}
        for event, text, triage, key in zip(fresh, texts, triages, keys, strict=True):
            conversation = threads.get(key)
            masked = _masked(text, triage)
            if conversation is None:
                conversation = Conversation(
                    organisation=org,
                    channel=channel,
                    thread_key=key[0],
                    contact=contacts[_contact_key(event)],
                    opened_at=event.created_at,
                    last_message_at=event.created_at,
                )
                _apply_triage(conversation, triage, event.created_at, org, new=True)
                conversation.first_response_due, conversation.resolution_due = deadlines_for(
                    org, conversation.category, event.created_at
                )
                threads[key] = conversation
                opened.append(conversation)
            else:
                _apply_triage(conversation, triage, event.created_at, org, new=False)
                conversation.last_message_at = max(conversation.last_message_at, event.created_at)
                if conversation.pk is not None and id(conversation) not in touched:
                    changed.append(conversation)
            touched.setdefault(id(conversation), conversation)
            conversation.preview = text[:PREVIEW_LENGTH]
            conversation.preview_masked = (masked or text)[:PREVIEW_LENGTH]
            rule, changes = _route_by_rules(conversation, text, rules)
            if rule is not None and changes:
                routed[id(conversation)] = (conversation, {"rule": rule.pk, **changes})
            created.append(
                Message(
                    conversation=conversation,
                    event=event,
                    direction=Direction.IN,
                    text=text,
                    masked_text=masked,
                    author_label=(event.author_name or event.author_handle)[:255],
                    created_at=event.created_at,
                    triage=triage,
                )
            )
        insert_rows(opened)
        update_rows(changed, INGEST_FIELDS)
        insert_rows(created)
        search.index_messages(
            [(c.pk, f"{c.contact.handle} {c.contact.display_name}") for c in opened]
            + [(m.conversation_id, m.text) for m in created]
        )
        conversations = {c.pk: c for c in touched.values()}
        routed_by_pk = {c.pk: changes for c, changes in routed.values()}
        cases = _after_routing(org, conversations, routed_by_pk)
        emergencies = [
            c.pk
            for c in conversations.values()
            if c.urgency == Urgency.CRITICAL
            and c.emergency_notified_at is None
            and c.status == Status.OPEN
        ]
        _alert_emergencies(org, [conversations[pk] for pk in emergencies])
        record(
            "inbox.events.ingested",
            actor=Actor.system("inbox"),
            organisation=org,
            target=channel,
            payload={
                "messages": len(created),
                "conversations_opened": len(opened),
                "conversations": sorted({m.conversation_id for m in created}),
                "unlabelled": sum(1 for t in triages if not t),
                **({"routed": {str(k): v for k, v in routed_by_pk.items()}} if routed else {}),
                **({"cases_opened": cases} if cases else {}),
                **({"emergencies": emergencies} if emergencies else {}),
            },
        )
    return created


#: What ingesting a message may change on a conversation it joins.
INGEST_FIELDS = [
    "category",
    "urgency",
    "sentiment",
    "language",
    "abusive",
    "needs_review",
    "first_response_due",
    "resolution_due",
    "last_message_at",
    "preview",
    "preview_masked",
    "unit",
    "assignee",
]


def _open_conversations(
    channel: ChannelAccount, keys: Sequence[tuple[str, int]], contacts: Iterable[Contact]
) -> dict[tuple[str, int], Conversation]:
    """The latest open conversation of each (thread key, contact id), locked, in one query.

    The filter on thread keys and contacts separately may fetch a few rows of other pairs
    (a citizen of this batch in another thread of this batch); they are dropped here. Served
    by the ``conv_thread`` index.
    """
    wanted = set(keys)
    rows = (
        Conversation.objects.select_for_update()
        .filter(
            channel=channel,
            status=Status.OPEN,
            thread_key__in={k for k, _c in wanted},
            contact_id__in={c for _k, c in wanted},
        )
        # No select_related: FOR UPDATE would lock the joined contacts too, and two workers
        # ingesting channels that share citizens deadlocked on them.
        .order_by("last_message_at", "pk")
    )
    by_pk = {c.pk: c for c in contacts}
    found = {}
    for c in rows:  # ascending, so the latest of each pair is the one left in the dict
        # The alerts, cases and notifications read these: no query per conversation.
        c.channel = channel
        c.organisation = channel.organisation
        c.contact = by_pk[c.contact_id]
        found[(c.thread_key, c.contact_id)] = c
    return {key: c for key, c in found.items() if key in wanted}


def _route_by_rules(
    conversation: Conversation, text: str, rules: Sequence[Any]
) -> tuple[Any, dict[str, Any]]:
    """Apply the first matching routing rule to a conversation no person has routed."""
    from humas.inbox import routing

    if not rules or conversation.routed_manually:
        return None, {}
    sample = routing.Sample(
        text=text,
        category=conversation.category,
        urgency=conversation.urgency,
        language=conversation.language,
        channel_id=conversation.channel_id,
    )
    rule = routing.first_match(rules, sample)
    if rule is None:
        return None, {}
    return rule, routing.apply_rule(conversation, rule)


def _after_routing(
    org: Organisation, conversations: dict[int, Conversation], routed: dict[int, dict[str, Any]]
) -> list[str]:
    """Tell the units and people rules routed conversations to; open a case for each
    complaint a rule sent to a unit (the rule did the forwarding). Return the new cases'
    tracking numbers."""
    from humas.inbox.cases import create_case

    opened = []
    for pk, changes in routed.items():
        conversation = conversations[pk]
        if "unit" in changes and conversation.unit is not None:
            if conversation.category == Category.COMPLAINT and not hasattr(conversation, "case"):
                case = create_case(conversation, by=Actor.system("inbox"))
                opened.append(case.tracking_number)
            _tell_unit(conversation, conversation.unit)
        if "assignee" in changes and conversation.assignee is not None:
            with translation.override(org.default_language):
                notify(
                    org,
                    [conversation.assignee],
                    kind="inbox.assigned",
                    title=_("A conversation was assigned to you"),
                    body=str(conversation.contact),
                    url=_conversation_url(conversation),
                )
    return opened


def on_duty_members(org: Organisation) -> list[User]:
    return [
        m.user
        for m in Membership.objects.filter(
            organisation=org, is_active=True, on_duty=True, user__is_active=True
        ).select_related("user")
    ]


def _admins(org: Organisation) -> list[User]:
    return [m.user for m in _members(org) if m.role == Role.ADMIN]


def alert_emergency(conversation: Conversation) -> None:
    """Tell the on-duty members (piket) of a critical conversation, in humas and by e-mail;
    the admins when nobody is on duty. Once per conversation. Part of the caller's
    transaction (the e-mails leave after its commit)."""
    _alert_emergencies(conversation.organisation, [conversation])


def _alert_emergencies(org: Organisation, conversations: Sequence[Conversation]) -> None:
    """:func:`alert_emergency` for several conversations of one organisation: the on-duty
    members and the admins are read once, the conversations marked in one update."""
    # A blocked citizen's messages are kept, but nobody is called out for them.
    conversations = [c for c in conversations if c.contact.blocked_at is None]
    if not conversations:
        return
    on_duty = list(
        Membership.objects.filter(
            organisation=org, is_active=True, on_duty=True, user__is_active=True
        ).select_related("user")
    )
    admins: list[User] | None = None
    now = timezone.now()
    notices = []
    url_of = _conversation_urls()
    with translation.override(org.default_language):
        for conversation in conversations:
            people = [m.user for m in on_duty if may_see(m, conversation)]
            if not people:
                if admins is None:
                    admins = _admins(org)
                people = admins
            notices.append(
                Notice(
                    users=people,
                    kind="inbox.emergency",
                    title=_("Emergency: %(who)s on %(channel)s")
                    % {"who": conversation.contact, "channel": conversation.channel.handle},
                    body=conversation.preview_masked,
                    url=url_of(conversation.pk),
                )
            )
            conversation.emergency_notified_at = now
    # One INSERT and one e-mail task for the whole batch, however many emergencies it held.
    notify_many(org, notices, email=True, telegram=True)
    Conversation.objects.filter(pk__in=[c.pk for c in conversations]).update(
        emergency_notified_at=now
    )


# --- answering ---------------------------------------------------------------------------


def _reply_target(conversation: Conversation) -> InboundEvent | None:
    """The citizen's latest message still stored: the one a reply answers."""
    message = (
        conversation.messages.filter(direction=Direction.IN, event__isnull=False)
        .select_related("event__channel__organisation")
        .order_by("-created_at", "-pk")
        .first()
    )
    return message.event if message is not None else None


def _content(message: Message) -> PostContent:
    from humas.publishing.compose import media_for

    return PostContent(
        text=message.text,
        media=[media_for(asset, with_data=True) for asset in message.attachments.all()],
    )


def _deliver(message: Message, *, by: Actor) -> Message:
    """Send a stored outbound message; keep it, sent or failed, with one audit entry."""
    conversation = message.conversation
    event = _reply_target(conversation)
    post: ChannelPost | None = None
    error, kind = "", ""
    if event is None:
        error, kind = _("There is no message from the citizen to answer."), "refused"
    else:
        try:
            post = reply_to_event(event, _content(message), by=by)
        except ProviderError as exc:
            error, kind = exc.message, str(exc.kind)
        except ActionError as exc:
            # The channel is not active, or the text breaks the network's rules.
            error, kind = str(exc), "refused"
        except Exception:
            # Whatever went wrong, the reply stays in the thread, failed and retriable.
            logger.exception("replying in conversation %s failed", conversation.pk)
            error, kind = _("Something went wrong while sending; try again."), "error"
    with transaction.atomic():
        _locked(conversation)
        now = timezone.now()
        message.attempts += 1
        if post is None:
            message.send_status = SendStatus.FAILED
            message.send_error = error[:2000]
            message.send_error_kind = kind
        else:
            message.send_status = SendStatus.SENT
            message.send_error = message.send_error_kind = ""
            message.channel_post = post
            message.created_at = post.published_at
            if conversation.responded_at is None:
                conversation.responded_at = now
                conversation.save(update_fields=["responded_at"])
        message.save()
        record(
            "inbox.reply.failed" if post is None else "inbox.reply.sent",
            actor=by,
            organisation=conversation.organisation,
            target=conversation,
            payload={
                "message": message.pk,
                "attempt": message.attempts,
                **({"error": error, "kind": kind} if post is None else {}),
                **({"external_id": post.external_id} if post is not None else {}),
            },
        )
    return message


def send_reply(
    conversation: Conversation, text: str, *, by: Actor, media: Sequence[MediaAsset] = ()
) -> Message:
    """Answer the citizen through the conversation's channel, in their thread, with
    ``media`` from the organisation's library attached.

    The reply is stored before the network is called, so a rejection (an image the network
    does not take, say) leaves it in the conversation as a failed message with the network's
    reason, ready to be tried again.
    """
    text = clean_text(text).strip()
    if not text:
        raise ActionError(_("Write the reply first."))
    if any(asset.organisation_id != conversation.organisation_id for asset in media):
        raise ActionError(_("Choose files from your organisation's media library."))
    message = Message.objects.create(
        conversation=conversation,
        direction=Direction.OUT,
        text=text,
        author=by.user,
        author_label=by.describe(),
        created_at=timezone.now(),
        send_status=SendStatus.SENDING,
        sending_since=timezone.now(),
    )
    search.index_messages([(conversation.pk, text)])
    if media:
        message.attachments.set(media)
    return _deliver(message, by=by)


#: A reply "sending" for longer than this was cut off (the process stopped mid-call).
STUCK_AFTER = timedelta(minutes=10)


def release_stuck_replies(now: datetime | None = None) -> int:
    """Mark replies cut off mid-send as failed, so a person can check and send them again.

    Nobody knows whether the network took such a reply, so it is not resent automatically:
    the message asks the person to look at the thread first. Returns how many were released.
    """
    now = now or timezone.now()
    stuck = list(
        Message.objects.filter(
            direction=Direction.OUT,
            send_status=SendStatus.SENDING,
            sending_since__lt=now - STUCK_AFTER,
        ).select_related("conversation__organisation")
    )
    error = _(
        "humas stopped while sending this reply, so it is not known whether it arrived. "
        "Look at the thread on the network and send it again only if it is not there."
    )
    released = 0
    for message in stuck:
        with transaction.atomic():
            if not Message.objects.filter(pk=message.pk, send_status=SendStatus.SENDING).update(
                send_status=SendStatus.FAILED, send_error=error, send_error_kind="uncertain"
            ):
                continue  # finished meanwhile
            record(
                "inbox.reply.failed",
                actor=Actor.system("inbox"),
                organisation=message.conversation.organisation,
                target=message.conversation,
                payload={"message": message.pk, "kind": "uncertain"},
            )
            released += 1
    return released


def retry_reply(message: Message, *, by: Actor) -> Message:
    """Send a reply the network refused (or that could not go) once more."""
    if message.direction != Direction.OUT:
        raise ActionError(_("Only our own replies can be sent again."))
    # Claimed with a conditional update, so two clicks never send it twice.
    now = timezone.now()
    claimed = Message.objects.filter(pk=message.pk, send_status=SendStatus.FAILED).update(
        send_status=SendStatus.SENDING, sending_since=now
    )
    if not claimed:
        raise ActionError(_("This reply was already sent or is being sent."))
    message.send_status, message.sending_since = SendStatus.SENDING, now
    return _deliver(message, by=by)


# --- working together --------------------------------------------------------------------

_MENTION = re.compile(r"(?<![\w@])@([\w.+-]+(?:@[\w-]+(?:\.[\w-]+)+)?)")


def may_see(membership: Membership, conversation: Conversation) -> bool:
    if not membership.is_active or membership.organisation_id != conversation.organisation_id:
        return False
    if membership.has_perm("inbox.view"):
        return True
    return (
        membership.has_perm("cases.view_unit")
        and membership.unit_id is not None
        and membership.unit_id == conversation.unit_id
    )


def may_work(membership: Membership, conversation: Conversation) -> bool:
    if not may_see(membership, conversation):
        return False
    return membership.has_perm("inbox.work") or membership.has_perm("cases.work_unit")


def _members(org: Organisation) -> list[Membership]:
    return list(
        Membership.objects.filter(organisation=org, is_active=True, user__is_active=True)
        .select_related("user")
        .order_by("user__email")
    )


def mentioned_in(text: str, conversation: Conversation) -> list[User]:
    """Members named in ``text`` as ``@name`` (their e-mail's local part) or ``@e-mail``
    who may see the conversation; others are not told about a page they cannot open."""
    names = {m.lower() for m in _MENTION.findall(text)}
    if not names:
        return []
    people = []
    for membership in _members(conversation.organisation):
        email = membership.user.email.lower()
        if (email in names or email.split("@")[0] in names) and may_see(membership, conversation):
            people.append(membership.user)
    return people


def _conversation_url(conversation: Conversation) -> str:
    return reverse("inbox:conversation", args=[conversation.pk])


def _conversation_urls() -> Callable[[int], str]:
    """``_conversation_url`` for a whole batch: ``reverse()`` once (half a millisecond a
    call, a few per cent of an ingest profile when it ran for every emergency)."""
    sentinel = 987654321
    pattern = reverse("inbox:conversation", args=[sentinel])
    return lambda pk: pattern.replace(str(sentinel), str(pk))


def add_note(conversation: Conversation, text: str, *, by: Actor) -> Note:
    """An internal note; the members it mentions are notified."""
    text = clean_text(text).strip()
    if not text:
        raise ActionError(_("Write the note first."))
    org = conversation.organisation
    people = [u for u in mentioned_in(text, conversation) if u != by.user]
    with transaction.atomic():
        note = Note.objects.create(conversation=conversation, author=by.user, text=text)
        note.mentioned.set(people)
        if people:
            with translation.override(org.default_language):
                notify(
                    org,
                    people,
                    kind="inbox.mention",
                    title=_("%(who)s mentioned you in a conversation") % {"who": by.describe()},
                    body=text[:500],
                    url=_conversation_url(conversation),
                )
        record(
            "inbox.note.added",
            actor=by,
            organisation=org,
            target=conversation,
            payload={"note": note.pk, "mentioned": [u.email for u in people]},
        )
    return note


def assign_conversation(conversation: Conversation, assignee: User | None, *, by: Actor) -> None:
    """Give the conversation to a member who may work on it (``None``: to nobody)."""
    org = conversation.organisation
    if assignee is not None:
        membership = Membership.objects.filter(
            organisation=org, user=assignee, is_active=True
        ).first()
        if membership is None or not may_work(membership, conversation):
            raise ActionError(
                _("%(who)s cannot work on this conversation.") % {"who": assignee.email}
            )
    with transaction.atomic():
        _locked(conversation)
        before = conversation.assignee
        conversation.assignee = assignee
        conversation.save(update_fields=["assignee"])
        if assignee is not None and assignee != by.user and assignee != before:
            with translation.override(org.default_language):
                notify(
                    org,
                    [assignee],
                    kind="inbox.assigned",
                    title=_("A conversation was assigned to you"),
                    body=str(conversation.contact),
                    url=_conversation_url(conversation),
                )
        record(
            "inbox.conversation.assigned",
            actor=by,
            organisation=org,
            target=conversation,
            payload={
                "from": before.email if before else None,
                "to": assignee.email if assignee else None,
            },
        )


def _tell_unit(conversation: Conversation, unit: Unit) -> None:
    """Notify the unit agents of ``unit`` that a conversation is theirs now."""
    org = conversation.organisation
    agents = [
        m.user
        for m in _members(org)
        if m.unit_id == unit.pk and not m.has_perm("inbox.view") and m.has_perm("cases.view_unit")
    ]
    with translation.override(org.default_language):
        notify(
            org,
            agents,
            kind="inbox.routed",
            title=_("A conversation was routed to %(unit)s") % {"unit": unit.name},
            body=str(conversation.contact),
            url=_conversation_url(conversation),
        )


def route_conversation(conversation: Conversation, unit: Unit | None, *, by: Actor) -> None:
    """Send the conversation to the unit that must act on it; its agents are told."""
    org = conversation.organisation
    if unit is not None and unit.organisation_id != org.pk:
        raise ActionError(_("Choose one of your organisation's units."))
    with transaction.atomic():
        _locked(conversation)
        before = conversation.unit
        conversation.unit = unit
        conversation.routed_manually = True
        conversation.save(update_fields=["unit", "routed_manually"])
        if unit is not None and unit != before:
            _tell_unit(conversation, unit)
        record(
            "inbox.conversation.routed",
            actor=by,
            organisation=org,
            target=conversation,
            payload={
                "from": before.name if before else None,
                "to": unit.name if unit else None,
            },
        )


def correct_labels(
    conversation: Conversation, *, by: Actor, category: str, urgency: str, sentiment: str
) -> dict[str, list[str]]:
    """Set the labels a person judged right; return what changed (field: [old, new]).

    The correction is kept on the citizen's latest message beside the triage's own
    labels, so the classifier can later be retrained on the agency's judgement.
    """
    wanted = {"category": category, "urgency": urgency, "sentiment": sentiment}
    for field, choices in (("category", Category), ("urgency", Urgency), ("sentiment", Sentiment)):
        if wanted[field] not in choices.values:
            raise ActionError(_("Choose a label from the list."))
    with transaction.atomic():
        _locked(conversation)
        was_unsure = conversation.needs_review
        changes = {
            field: [getattr(conversation, field), value]
            for field, value in wanted.items()
            if getattr(conversation, field) != value
        }
        if not changes and not was_unsure:
            return {}
        for field, (_old, new) in changes.items():
            setattr(conversation, field, new)
        conversation.labels_corrected = True
        conversation.needs_review = False
        if "category" in changes:
            first, resolution = deadlines_for(
                conversation.organisation, conversation.category, conversation.opened_at
            )
            if conversation.responded_at is None:
                conversation.first_response_due = first
            conversation.resolution_due = resolution
        conversation.save()
        message = (
            conversation.messages.filter(direction=Direction.IN)
            .order_by("-created_at", "-pk")
            .first()
        )
        if message is not None:
            message.corrections = {
                **message.corrections,
                **wanted,
                "by": by.describe(),
                "at": timezone.now().isoformat(),
            }
            message.save(update_fields=["corrections"])
            # The operator's judgement teaches the organisation's own triage model: the
            # fields they changed, and all of them when they confirmed an unsure triage.
            taught = wanted if was_unsure else {f: wanted[f] for f in changes}
            text = (message.masked_text or message.text).strip()
            if text and taught:
                from humas.triage.actions import add_corrections

                add_corrections(
                    conversation.organisation,
                    text=text,
                    labels=dict(taught),
                    by=by,
                    source=correction_source(message.pk),
                )
        record(
            "inbox.conversation.relabelled",
            actor=by,
            organisation=conversation.organisation,
            target=conversation,
            payload={"changes": changes, "message": message.pk if message else None},
        )
    return changes


def resolve_conversation(conversation: Conversation, *, by: Actor) -> None:
    with transaction.atomic():
        _locked(conversation)
        if conversation.status == Status.RESOLVED:
            raise ActionError(_("This conversation is already resolved."))
        conversation.status = Status.RESOLVED
        conversation.resolved_at = timezone.now()
        conversation.save(update_fields=["status", "resolved_at"])
        record(
            "inbox.conversation.resolved",
            actor=by,
            organisation=conversation.organisation,
            target=conversation,
        )


def reopen_conversation(conversation: Conversation, *, by: Actor) -> None:
    """Open a resolved conversation again; its deadlines stay where they were."""
    with transaction.atomic():
        _locked(conversation)
        if conversation.status == Status.OPEN:
            raise ActionError(_("This conversation is already open."))
        resolved_at = conversation.resolved_at
        conversation.status = Status.OPEN
        conversation.resolved_at = None
        conversation.save(update_fields=["status", "resolved_at"])
        record(
            "inbox.conversation.reopened",
            actor=by,
            organisation=conversation.organisation,
            target=conversation,
            payload={"resolved_at": resolved_at},
        )


def is_emergency(conversation: Conversation) -> bool:
    return conversation.category == Category.EMERGENCY or conversation.urgency == Urgency.CRITICAL


def resolve_conversations(
    conversations: Sequence[Conversation], *, by: Actor
) -> tuple[list[int], list[int]]:
    """Resolve many open conversations at once; return (resolved, skipped) ids.

    Emergencies are skipped: each must be looked at and resolved on its own page.
    """
    resolved: list[int] = []
    skipped: list[int] = []
    if not conversations:
        return resolved, skipped
    org = conversations[0].organisation
    with transaction.atomic():
        rows = Conversation.objects.select_for_update().filter(
            pk__in=[c.pk for c in conversations], organisation=org, status=Status.OPEN
        )
        now = timezone.now()
        for conversation in rows.order_by("pk"):
            if is_emergency(conversation):
                skipped.append(conversation.pk)
                continue
            resolved.append(conversation.pk)
        Conversation.objects.filter(pk__in=resolved).update(status=Status.RESOLVED, resolved_at=now)
        record(
            "inbox.conversations.resolved",
            actor=by,
            organisation=org,
            payload={"resolved": resolved, "skipped_emergencies": skipped},
        )
    return resolved, skipped


# --- canned replies ----------------------------------------------------------------------

_VARIABLE = re.compile(r"\{(\w*)\}")
#: The placeholders a canned reply may use.
VARIABLES = ("name", "tracking_number", "unit")


def fill_canned_reply(reply: CannedReply, conversation: Conversation) -> tuple[str, list[str]]:
    """The reply's text for this conversation, and the placeholders left as they were
    (unknown ones, and known ones with nothing to put there, e.g. no case yet)."""
    from humas.inbox.models import Case

    case = Case.objects.filter(conversation=conversation).only("tracking_number").first()
    contact = conversation.contact
    values = {
        "name": contact.display_name or contact.handle,
        "tracking_number": case.tracking_number if case else "",
        "unit": conversation.unit.name if conversation.unit else "",
    }
    left: list[str] = []

    def substitute(found: re.Match[str]) -> str:
        value = values.get(found.group(1), "")
        if value:
            return value
        if found.group(0) not in left:
            left.append(found.group(0))
        return found.group(0)

    return _VARIABLE.sub(substitute, reply.text), left


def save_canned_reply(
    org: Organisation, reply: CannedReply | None, *, by: Actor, title: str, text: str
) -> CannedReply:
    title, text = clean_text(title).strip(), clean_text(text).strip()
    if not title or not text:
        raise ActionError(_("Give the reply a title and a text."))
    with transaction.atomic():
        before = {"title": reply.title, "text": reply.text} if reply is not None else None
        if reply is None:
            reply = CannedReply(organisation=org)
        reply.title, reply.text = title, text
        reply.save()
        record(
            "inbox.canned_reply.created" if before is None else "inbox.canned_reply.changed",
            actor=by,
            organisation=org,
            target=reply,
            payload={"before": before, "after": {"title": title, "text": text}},
        )
    return reply


def delete_canned_reply(reply: CannedReply, *, by: Actor) -> None:
    org = reply.organisation
    with transaction.atomic():
        payload = {"reply": reply.pk, "title": reply.title}
        reply.delete()
        record("inbox.canned_reply.deleted", actor=by, organisation=org, payload=payload)
