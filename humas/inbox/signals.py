"""Where the inbox hears of citizens' messages: the channels app's ``events_stored``."""

from __future__ import annotations

from typing import Any

from django.dispatch import receiver

from humas.channels.models import ChannelAccount, InboundEvent
from humas.channels.signals import events_stored


@receiver(events_stored, dispatch_uid="inbox.ingest_events")
def thread_new_events(
    sender: Any, channel: ChannelAccount, events: list[InboundEvent], **kwargs: Any
) -> None:
    # Imported here: actions pull in the triage engine, which apps load after models.
    from humas.inbox.actions import ingest_events

    ingest_events(channel, events)
