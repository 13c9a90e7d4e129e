"""Periodic work of the channels app, run by ``humas worker``."""

from __future__ import annotations

import logging
import os
from datetime import timedelta

from django.utils import timezone

from humas.channels.actions import POLL_INTERVAL, poll_channel
from humas.channels.models import ChannelAccount, ChannelStatus
from humas.channels.providers.base import ErrorKind, ProviderError
from humas.lib.leases import claim, release
from humas.ops.jobs import register_job

logger = logging.getLogger(__name__)

POLL_LEASE = timedelta(minutes=5)
CHANNELS_PER_RUN = 20


def _worker_id() -> str:
    return f"channels-poll-{os.getpid()}"


@register_job("channels.poll_inbound", interval_seconds=15)
def poll_due_channels() -> int:
    """Poll every active channel whose ``next_poll_at`` has come, each under a lease.

    Several workers may run this job's rows in turn; the per-channel lease keeps two of them
    from polling one channel at the same moment.
    """
    worker_id = _worker_id()
    due = ChannelAccount.objects.filter(status=ChannelStatus.ACTIVE, next_poll_at__isnull=False)
    channels = claim(
        due, worker_id=worker_id, lease=POLL_LEASE, limit=CHANNELS_PER_RUN, due_field="next_poll_at"
    )
    total = 0
    for channel in channels:
        next_at = timezone.now() + POLL_INTERVAL
        try:
            total += poll_channel(channel)
        except ProviderError as exc:
            if exc.kind == ErrorKind.RATE_LIMITED and exc.retry_after:
                next_at = timezone.now() + timedelta(seconds=exc.retry_after)
            logger.warning("polling %s failed (%s): %s", channel, exc.kind, exc)
        except Exception:
            logger.exception("polling %s failed", channel)
        release(channel, worker_id, next_poll_at=next_at)
    return total
