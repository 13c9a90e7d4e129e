"""Periodic work of the crisis app, run by ``humas worker``."""

from __future__ import annotations

from humas.crisis.actions import detect_all
from humas.ops.jobs import register_job


@register_job("crisis.detect_spikes", interval_seconds=300)
def detect_spikes() -> int:
    """Slide the spike window forward (see ``humas/crisis/spikes.py``); return how many
    alerts were raised."""
    return detect_all()


@register_job("crisis.poll_cap_feeds", interval_seconds=60)
def poll_cap_feeds() -> int:
    """Poll the enabled CAP feeds that are due (see ``humas/crisis/feeds.py``); return how
    many alerts were stored."""
    from humas.crisis.feeds import poll_all

    return poll_all()


@register_job("crisis.link_incident_messages", interval_seconds=30)
def link_incident_messages() -> int:
    """Tie the messages that arrived lately to the active incidents they belong to (see
    ``humas/crisis/incident_messages.py``); return how many were linked."""
    from humas.crisis.incident_messages import link_recent

    return link_recent()
