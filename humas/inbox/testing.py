"""Builders for tests across apps: a citizen's conversation arriving the real way."""

from __future__ import annotations

from datetime import UTC, datetime

from humas.channels.actions import store_events
from humas.channels.models import ChannelAccount
from humas.channels.providers.base import EventKind
from humas.channels.providers.base import InboundEvent as EventData
from humas.inbox.models import Conversation, Direction, Message, SendStatus


def make_conversation(
    channel: ChannelAccount,
    text: str = "Lapor min, jalan rusak di RT 05",
    *,
    author: str = "budi",
    external_id: str = "",
) -> Conversation:
    """A citizen's message stored on ``channel``; the inbox threads it as it would any."""
    (event,) = store_events(
        channel,
        [
            EventData(
                kind=EventKind.MENTION,
                external_id=external_id or f"{author}-{datetime.now(UTC).timestamp()}",
                created_at=datetime.now(UTC),
                author_id=f"id-{author}",
                author_handle=f"@{author}",
                text=text,
            )
        ],
    )
    return Conversation.objects.get(messages__event=event)


def make_failed_reply(conversation: Conversation, text: str = "Baik, kami cek.") -> Message:
    return Message.objects.create(
        conversation=conversation,
        direction=Direction.OUT,
        text=text,
        created_at=datetime.now(UTC),
        send_status=SendStatus.FAILED,
        send_error="network refused",
    )
