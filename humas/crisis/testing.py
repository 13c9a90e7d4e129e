"""Builders for spike tests: citizens' messages arriving at given times, the real way."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from itertools import count
from typing import Any

from humas.channels.actions import store_events
from humas.channels.models import ChannelAccount
from humas.channels.providers.base import EventKind
from humas.channels.providers.base import InboundEvent as EventData
from humas.inbox.models import Message

_numbers = count(1)

#: Labels the spike tests give every message, so they do not depend on what the
#: (retrainable) triage model answers for a phrase.
ORDINARY = {"sentiment": "neutral", "category": "complaint", "urgency": "normal"}


def arrive(
    channel: ChannelAccount,
    text: str,
    times: Sequence[datetime],
    *,
    labels: dict[str, Any] | None = None,
    author: str = "",
) -> list[Message]:
    """One message with ``text`` at each of ``times``, each from its own citizen (unless
    ``author`` is given), labelled :data:`ORDINARY` updated with ``labels``."""
    events = []
    for at in times:
        n = next(_numbers)
        who = author or f"warga{n}"
        events.append(
            EventData(
                kind=EventKind.MENTION,
                external_id=f"spike-{n}",
                created_at=at,
                author_id=f"id-{who}",
                author_handle=f"@{who}",
                text=text,
            )
        )
    stored = store_events(channel, events)
    messages = Message.objects.filter(event__in=stored)
    messages.update(triage={**ORDINARY, **(labels or {})})
    return list(messages.order_by("created_at", "pk"))
