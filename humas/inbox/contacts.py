"""Named actions about citizens (warga): merging identities, blocking, exporting and erasing
what is stored about them, and marking conversations as spam or abuse in bulk.

A citizen is one :class:`~humas.inbox.models.Contact` that is not merged into another (the
*kept* identity) together with the identities merged into it. ``merged_into`` never chains:
merging re-points the merged identity's own merged ones at the kept identity.

Blocking and erasing act on the whole citizen (every identity). Every action runs in one
transaction and writes one audit entry; entries name citizens by id only, never by name, so
that erasing leaves nothing personal in the audit log that this module wrote.
"""

from __future__ import annotations

import csv
import io
import logging
from collections import Counter
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from django.core.files.storage import default_storage
from django.db import transaction
from django.db.models import Q, QuerySet
from django.urls import reverse
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from humas.accounts.actions import ActionError
from humas.accounts.audit import Actor, record
from humas.accounts.models import Notification, Organisation
from humas.channels.models import ChannelPost, InboundEvent
from humas.inbox import search
from humas.inbox.actions import is_emergency
from humas.inbox.models import (
    Case,
    CaseEvent,
    Category,
    Contact,
    Conversation,
    Direction,
    Message,
    Note,
    Status,
    correction_source,
)
from humas.triage import forget_corrections

logger = logging.getLogger(__name__)


# --- who a citizen is ------------------------------------------------------------------------


def kept_identity(contact: Contact) -> Contact:
    """The identity a citizen is known by: the one ``contact`` was merged into, or itself.

    Read afresh: another request may have merged it since ``contact`` was loaded."""
    fresh = Contact.objects.select_related("merged_into", "organisation").get(pk=contact.pk)
    return fresh.merged_into or fresh


def identities(contact: Contact) -> list[Contact]:
    """Every identity of the citizen ``contact`` belongs to, the kept one first."""
    kept = kept_identity(contact)
    return [kept, *Contact.objects.filter(merged_into=kept).order_by("network", "pk")]


def conversations_of(contact: Contact) -> QuerySet[Conversation]:
    """The citizen's conversations on every network, oldest first (their history)."""
    kept = kept_identity(contact)
    return (
        Conversation.objects.filter(Q(contact=kept) | Q(contact__merged_into=kept))
        .select_related("channel", "contact")
        .order_by("opened_at", "pk")
    )


def is_blocked(contact: Contact) -> bool:
    return contact.blocked_at is not None


def answers_automatically(conversation: Conversation) -> bool:
    """Whether humas may answer this conversation without a person writing the answer.

    Never to spam or abuse, and never to a blocked or erased citizen: an automatic answer
    tells a spammer the address is read, and an erased citizen asked to be forgotten.
    """
    contact = conversation.contact
    return not (
        conversation.category == Category.SPAM
        or conversation.abusive
        or contact.blocked_at is not None
        or contact.erased_at is not None
    )


def category_counts(conversations: Sequence[Conversation]) -> list[tuple[str, int]]:
    """(category label, how many) for the citizen's conversations, most frequent first."""
    counts = Counter(c.category for c in conversations)
    return [(str(Category(k).label), n) for k, n in counts.most_common()]


# --- merging ---------------------------------------------------------------------------------


def merge_contacts(keep: Contact, others: Sequence[Contact], *, by: Actor) -> list[int]:
    """Merge ``others`` into ``keep`` (one person on several networks); return the ids of
    the identities now pointing at ``keep``.

    ``keep`` is replaced by the identity it is merged into, if any. An identity that others
    were merged into passes them on to ``keep``: no chains. If any identity of the result is
    blocked, the whole citizen is (merging never unblocks anyone silently).
    """
    org_id = keep.organisation_id
    with transaction.atomic():
        keep = Contact.objects.select_for_update().get(pk=kept_identity(keep).pk)
        chosen = {o.pk for o in others} - {keep.pk}
        if not chosen:
            raise ActionError(_("Choose at least one other identity to merge."))
        rows = list(
            Contact.objects.select_for_update().filter(pk__in=chosen, organisation_id=org_id)
        )
        if len(rows) != len(chosen):
            raise ActionError(_("Choose identities of your organisation's citizens."))
        # The chosen identities, and the ones merged into any of them.
        moving = Contact.objects.filter(Q(pk__in=chosen) | Q(merged_into__in=chosen)).exclude(
            pk=keep.pk
        )
        moved = sorted(moving.values_list("pk", flat=True))
        Contact.objects.filter(pk__in=moved).update(merged_into=keep)
        group = Contact.objects.filter(Q(pk=keep.pk) | Q(merged_into=keep))
        blocked = group.filter(blocked_at__isnull=False).order_by("blocked_at").first()
        if blocked is not None:
            group.filter(blocked_at__isnull=True).update(blocked_at=blocked.blocked_at)
        record(
            "inbox.citizen.merged",
            actor=by,
            organisation=keep.organisation,
            payload={"kept": keep.pk, "merged": moved, "blocked": blocked is not None},
        )
    return moved


def unmerge_contact(contact: Contact, *, by: Actor) -> None:
    """Make a merged identity a citizen of its own again (it keeps its own blocked state)."""
    with transaction.atomic():
        contact = Contact.objects.select_for_update().get(pk=contact.pk)
        if contact.merged_into_id is None:
            raise ActionError(_("This identity is not merged into another."))
        before = contact.merged_into_id
        contact.merged_into = None
        contact.save(update_fields=["merged_into"])
        record(
            "inbox.citizen.unmerged",
            actor=by,
            organisation=contact.organisation,
            payload={"contact": contact.pk, "from": before},
        )


# --- blocking --------------------------------------------------------------------------------


def _set_blocked(contact: Contact, blocked: bool, *, by: Actor) -> list[int]:
    kept = kept_identity(contact)
    with transaction.atomic():
        group = Contact.objects.select_for_update().filter(Q(pk=kept.pk) | Q(merged_into=kept))
        ids = sorted(group.values_list("pk", flat=True))
        if blocked:
            if all(c.blocked_at is not None for c in group):
                raise ActionError(_("This citizen is already blocked."))
            Contact.objects.filter(pk__in=ids, blocked_at__isnull=True).update(
                blocked_at=timezone.now()
            )
        else:
            if all(c.blocked_at is None for c in group):
                raise ActionError(_("This citizen is not blocked."))
            Contact.objects.filter(pk__in=ids).update(blocked_at=None)
        record(
            "inbox.citizen.blocked" if blocked else "inbox.citizen.unblocked",
            actor=by,
            organisation=kept.organisation,
            payload={"contact": kept.pk, "identities": ids},
        )
    return ids


def block_citizen(contact: Contact, *, by: Actor) -> list[int]:
    """Block the citizen on every network: their messages are still stored, but kept out of
    the default inbox, raise no emergency alert or deadline warning, and are never answered
    automatically."""
    return _set_blocked(contact, True, by=by)


def unblock_citizen(contact: Contact, *, by: Actor) -> list[int]:
    return _set_blocked(contact, False, by=by)


# --- spam and abuse in bulk ------------------------------------------------------------------

#: What the list's bulk form may do to the ticked conversations.
BULK_ACTIONS = ("spam", "abusive", "archive", "block")


def mark_conversations(
    conversations: Sequence[Conversation], what: str, *, by: Actor
) -> tuple[list[int], list[int]]:
    """Mark the conversations as spam or abusive, archive them (resolve without a reply), or
    block their citizens; return (done, skipped) conversation ids.

    Emergencies (category emergency or urgency critical) are never touched: each must be
    looked at on its own page.
    """
    if what not in BULK_ACTIONS:
        raise ActionError(_("Choose what to do with the ticked conversations."))
    done: list[int] = []
    skipped: list[int] = []
    if not conversations:
        return done, skipped
    org = conversations[0].organisation
    with transaction.atomic():
        rows = list(
            Conversation.objects.select_for_update()
            .filter(pk__in=[c.pk for c in conversations], organisation=org)
            .order_by("pk")
        )
        for conversation in rows:
            (skipped if is_emergency(conversation) else done).append(conversation.pk)
        chosen = Conversation.objects.filter(pk__in=done)
        blocked: list[int] = []
        if what == "spam":
            # Spam has no deadlines (see DEADLINES); the person's judgement stands.
            chosen.update(
                category=Category.SPAM,
                labels_corrected=True,
                needs_review=False,
                first_response_due=None,
                resolution_due=None,
            )
        elif what == "abusive":
            chosen.update(abusive=True, labels_corrected=True, needs_review=False)
        elif what == "archive":
            chosen.filter(status=Status.OPEN).update(
                status=Status.RESOLVED, resolved_at=timezone.now()
            )
        else:
            now = timezone.now()
            ids = {c.contact_id for c in rows if c.pk in done}
            kept = {
                merged_into or pk
                for pk, merged_into in Contact.objects.filter(pk__in=ids).values_list(
                    "pk", "merged_into"
                )
            }
            group = Contact.objects.filter(Q(pk__in=kept) | Q(merged_into__in=kept))
            blocked = sorted(group.filter(blocked_at__isnull=True).values_list("pk", flat=True))
            group.filter(blocked_at__isnull=True).update(blocked_at=now)
        record(
            "inbox.conversations.marked",
            actor=by,
            organisation=org,
            payload={
                "action": what,
                "done": done,
                "skipped_emergencies": skipped,
                **({"blocked_contacts": blocked} if what == "block" else {}),
            },
        )
    return done, skipped


# --- export on request (UU 27/2022) ----------------------------------------------------------


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


def citizen_data(contact: Contact) -> dict[str, Any]:
    """Everything humas stores about the citizen, for handing to them on request.

    Internal notes (of conversations and cases) are left out: they are the agency's working
    notes about the request, not data the citizen gave, and they name colleagues. Who wrote
    our replies is left out for the same reason.
    """
    people = identities(contact)
    conversations = list(conversations_of(contact))
    messages = (
        Message.objects.filter(conversation__in=conversations)
        .select_related("event")
        .order_by("created_at", "pk")
    )
    by_conversation: dict[int, list[dict[str, Any]]] = {c.pk: [] for c in conversations}
    for m in messages:
        entry: dict[str, Any] = {
            "id": m.pk,
            "from": "citizen" if m.direction == Direction.IN else "organisation",
            "written_at": _iso(m.created_at),
            "text": m.text,
        }
        if m.direction == Direction.OUT:
            entry["send_status"] = m.send_status
        if m.event is not None:
            entry["network"] = {
                "message_id": m.event.external_id,
                "author_id": m.event.author_id,
                "author_handle": m.event.author_handle,
                "author_name": m.event.author_name,
                "permalink": m.event.permalink,
                "media": m.event.media,
                "as_received": m.event.raw,
            }
        by_conversation[m.conversation_id].append(entry)
    cases = {
        c.conversation_id: c
        for c in Case.objects.filter(conversation__in=conversations).prefetch_related("events")
    }
    out = []
    for c in conversations:
        case = cases.get(c.pk)
        out.append(
            {
                "id": c.pk,
                "identity": c.contact_id,
                "network": c.channel.network,
                "channel": c.channel.handle,
                "opened_at": _iso(c.opened_at),
                "last_message_at": _iso(c.last_message_at),
                "status": c.status,
                "resolved_at": _iso(c.resolved_at),
                "category": c.category,
                "urgency": c.urgency,
                "sentiment": c.sentiment,
                "language": c.language,
                "abusive": c.abusive,
                "messages": by_conversation[c.pk],
                "case": None
                if case is None
                else {
                    "tracking_number": case.tracking_number,
                    "status": case.status,
                    "received_at": _iso(case.received_at),
                    "resolved_at": _iso(case.resolved_at),
                    "closed_at": _iso(case.closed_at),
                    "timeline": [
                        {"at": _iso(e.created_at), "status": e.status, "public_note": e.public_note}
                        for e in case.events.all()
                    ],
                },
            }
        )
    kept = people[0]
    return {
        "exported_at": timezone.now().isoformat(),
        "organisation": kept.organisation.name,
        "citizen": {
            "id": kept.pk,
            "blocked_at": _iso(kept.blocked_at),
            "erased_at": _iso(kept.erased_at),
        },
        "identities": [
            {
                "id": p.pk,
                "network": p.network,
                "external_id": p.external_id,
                "handle": p.handle,
                "name": p.display_name,
                "first_seen": _iso(p.created_at),
            }
            for p in people
        ],
        "conversations": out,
    }


CSV_COLUMNS = [
    "conversation",
    "network",
    "channel",
    "identity_handle",
    "identity_name",
    "from",
    "written_at",
    "text",
    "category",
    "status",
    "tracking_number",
]


def citizen_csv(data: dict[str, Any]) -> str:
    """The messages of :func:`citizen_data`, one row each, for a spreadsheet."""
    people = {p["id"]: p for p in data["identities"]}
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(CSV_COLUMNS)
    for c in data["conversations"]:
        person = people.get(c["identity"], {})
        for m in c["messages"]:
            writer.writerow(
                [
                    c["id"],
                    c["network"],
                    c["channel"],
                    person.get("handle", ""),
                    person.get("name", ""),
                    m["from"],
                    m["written_at"],
                    _spreadsheet_safe(m["text"]),
                    c["category"],
                    c["status"],
                    c["case"]["tracking_number"] if c["case"] else "",
                ]
            )
    return buffer.getvalue()


def _spreadsheet_safe(text: str) -> str:
    # A citizen's text starting with "=" would run as a formula in a spreadsheet.
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text


def export_citizen(contact: Contact, *, by: Actor, format: str = "json") -> dict[str, Any]:
    """The citizen's data (see :func:`citizen_data`); the audit entry says who exported
    which citizen and when, and how much, never the data itself."""
    with transaction.atomic():
        data = citizen_data(contact)
        record(
            "inbox.citizen.exported",
            actor=by,
            organisation=contact.organisation,
            payload={
                "contact": data["citizen"]["id"],
                "format": format,
                "identities": len(data["identities"]),
                "conversations": len(data["conversations"]),
                "messages": sum(len(c["messages"]) for c in data["conversations"]),
            },
        )
    return data


# --- erasing on request (UU 27/2022) ---------------------------------------------------------


def erased_marker(org: Organisation) -> str:
    with translation.override(org.default_language):
        return _("[erased on the citizen's request]")


def _events_of(people: Sequence[Contact], conversations: QuerySet[Conversation]) -> Q:
    """Every stored event by these identities: their messages, and the reactions and
    reposts that opened no conversation (matched by the network's id for the author)."""
    by_author = Q(pk__in=Message.objects.filter(conversation__in=conversations).values("event"))
    for p in people:
        if p.erased_at is not None:
            continue
        by_author |= Q(channel__network=p.network) & (
            Q(author_id=p.external_id) | Q(author_id="", author_handle=p.external_id)
        )
    return by_author


def erasure_summary(contact: Contact) -> dict[str, Any]:
    """What :func:`erase_citizen` would erase, for the confirmation page."""
    people = identities(contact)
    conversations = conversations_of(contact)
    return {
        "identities": people,
        "conversations": conversations.count(),
        "messages": Message.objects.filter(conversation__in=conversations).count(),
        "events": InboundEvent.objects.filter(
            Q(organisation_id=contact.organisation_id) & _events_of(people, conversations)
        ).count(),
        "notes": Note.objects.filter(conversation__in=conversations).count(),
        "cases": Case.objects.filter(conversation__in=conversations).count(),
    }


def erase_citizen(contact: Contact, *, by: Actor) -> dict[str, int]:
    """Erase what humas stores about the citizen (every identity); return how much.

    Gone: names, handles and the networks' ids for the person; the texts of every message
    in and out (replaced by a marker), the personal data the triage found in them, the
    stored events' texts, authors, links, files and raw payloads; internal notes and case
    notes on their conversations; the text of notifications about them. Kept: the rows
    themselves, so counts, deadlines, cases (tracking number, status, dates) and the audit
    trail still add up.

    The identity's network id is replaced, so the next message from the same person starts
    a new citizen instead of being silently linked to the erased history. The stored events
    keep the network's id *of each message* (not of the person): a network delivering an
    old message again is then recognised and not stored a second time.
    """
    org = contact.organisation
    marker = erased_marker(org)
    now = timezone.now()
    files: set[str] = set()
    with transaction.atomic():
        kept = kept_identity(contact)
        people = list(
            Contact.objects.select_for_update()
            .filter(Q(pk=kept.pk) | Q(merged_into=kept))
            .order_by("pk")
        )
        conversations = Conversation.objects.filter(contact__in=people)
        conversation_ids = list(conversations.values_list("pk", flat=True))
        events = InboundEvent.objects.filter(
            Q(organisation=org) & _events_of(people, conversations)
        )
        for media in events.values_list("media", flat=True):
            files.update(m["path"] for m in media or [] if isinstance(m, dict) and m.get("path"))
        event_count = events.update(
            text="",
            author_id="",
            author_handle="",
            author_name="",
            thread_id="",
            parent_id="",
            permalink="",
            media=[],
            raw={},
        )
        messages = Message.objects.filter(conversation_id__in=conversation_ids)
        message_count = 0
        # What operators taught the triage engine from these messages goes too.
        learnt = forget_corrections(
            org, [correction_source(pk) for pk in messages.values_list("pk", flat=True)]
        )
        for message in messages.only("pk", "triage", "direction", "channel_post_id"):
            triage = {**message.triage}
            if triage:
                triage["personal_data"] = []
                triage["links"] = []
            fields: dict[str, Any] = {"text": marker, "masked_text": marker, "triage": triage}
            if message.direction == Direction.IN:
                fields["author_label"] = ""
            Message.objects.filter(pk=message.pk).update(**fields)
            message_count += 1
        ChannelPost.objects.filter(
            pk__in=messages.filter(channel_post__isnull=False).values("channel_post")
        ).update(text="")
        conversations.update(preview=marker, preview_masked=marker, thread_key="erased")
        note_count = Note.objects.filter(conversation_id__in=conversation_ids).update(text=marker)
        case_ids = list(
            Case.objects.filter(conversation_id__in=conversation_ids).values_list("pk", flat=True)
        )
        CaseEvent.objects.filter(case_id__in=case_ids).exclude(public_note="").update(
            public_note=marker
        )
        CaseEvent.objects.filter(case_id__in=case_ids).exclude(internal_note="").update(
            internal_note=marker
        )
        urls = [reverse("inbox:conversation", args=[pk]) for pk in conversation_ids] + [
            reverse("inbox:case", args=[pk]) for pk in case_ids
        ]
        Notification.objects.filter(organisation=org, url__in=urls).update(title=marker, body="")
        for person in people:
            person.display_name = ""
            person.handle = ""
            person.external_id = f"erased-{person.pk}"
            person.erased_at = person.erased_at or now
            person.save(update_fields=["display_name", "handle", "external_id", "erased_at"])
        # The search documents held the citizen's words and names: built again from what
        # is left (the erasure marker).
        search.reindex_conversations(conversation_ids)
        counts = {
            "identities": len(people),
            "conversations": len(conversation_ids),
            "messages": message_count,
            "events": event_count,
            "notes": note_count,
            "cases": len(case_ids),
            "files": len(files),
            "corrections": learnt,
        }
        record(
            "inbox.citizen.erased",
            actor=by,
            organisation=org,
            payload={"contact": kept.pk, "identities": [p.pk for p in people], **counts},
        )
        transaction.on_commit(lambda: _delete_files(org, files))
    return counts


def _delete_files(org: Organisation, paths: set[str]) -> None:
    """Delete the erased events' files, unless another stored event still uses one (files
    are named after their content, so two events with the same picture share it)."""
    for path in paths:
        if InboundEvent.objects.filter(organisation=org, media__icontains=path).exists():
            continue
        try:
            default_storage.delete(path)
        except OSError:
            logger.exception("could not delete the erased file %s", path)
