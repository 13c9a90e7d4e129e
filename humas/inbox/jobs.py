"""Periodic work of the inbox app, run by ``humas worker``."""

from __future__ import annotations

import logging
from datetime import timedelta
from itertools import groupby

from django.utils import timezone

from humas.channels.models import InboundEvent
from humas.inbox.actions import NOT_MESSAGES, ingest_events
from humas.ops.jobs import register_job

logger = logging.getLogger(__name__)

#: How far back to look for events stored without reaching the inbox.
CATCH_UP_WINDOW = timedelta(days=3)
#: Events younger than this are left alone: their own ingest may still be running.
SETTLE = timedelta(minutes=1)
CATCH_UP_BATCH = 500


@register_job("inbox.catch_up", interval_seconds=300)
def ingest_missed_events() -> int:
    """Thread events that were stored but never reached the inbox; return how many.

    A webhook stores its events before the inbox ingests them (outside one transaction), so
    an ingest that fails there leaves events the network will never deliver again. Polls
    store and ingest in one transaction and never leave such events behind.
    """
    now = timezone.now()
    missed = list(
        InboundEvent.objects.filter(
            received_at__gte=now - CATCH_UP_WINDOW,
            received_at__lt=now - SETTLE,
            message__isnull=True,
        )
        .exclude(kind__in=[str(k) for k in NOT_MESSAGES])
        .select_related("channel__organisation")
        .order_by("channel_id", "created_at", "pk")[:CATCH_UP_BATCH]
    )
    done = 0
    for _channel_id, rows in groupby(missed, key=lambda e: e.channel_id):
        events = list(rows)
        try:
            done += len(ingest_events(events[0].channel, events))
        except Exception:
            logger.exception("catching up %d events of channel %s failed", len(events), _channel_id)
    return done
