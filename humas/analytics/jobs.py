"""Periodic work of analytics: metric snapshots (see :mod:`humas.analytics.snapshots`)."""

from __future__ import annotations

import logging

from humas.analytics.snapshots import collect_channel
from humas.channels.models import ChannelAccount, ChannelStatus
from humas.channels.providers.base import ProviderError
from humas.ops.jobs import register_job

logger = logging.getLogger(__name__)


# Every 10 minutes: the first snapshot of a post is due one hour after publishing, and a
# young post's points should be read close to their time.
@register_job("analytics.collect_metrics", interval_seconds=600)
def collect_metrics() -> int:
    """Snapshots for every active channel; one channel's failure does not stop the others."""
    stored = 0
    for channel in ChannelAccount.objects.filter(status=ChannelStatus.ACTIVE).select_related(
        "organisation"
    ):
        try:
            done = collect_channel(channel)
        except ProviderError as exc:
            logger.warning("snapshots for %s failed (%s): %s", channel, exc.kind, exc)
            continue
        except Exception:
            logger.exception("snapshots for %s failed", channel)
            continue
        stored += done.posts + done.accounts
    return stored
