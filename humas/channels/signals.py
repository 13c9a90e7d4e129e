"""Signals the channels app sends, for apps to its right (inbox, crisis) to listen to.

Channels never imports those apps; they connect receivers in their ``AppConfig.ready``.
"""

from __future__ import annotations

from django.dispatch import Signal

#: Sent by :func:`humas.channels.actions.store_events` after new inbound events are stored,
#: with ``channel`` (the ChannelAccount) and ``events`` (the new InboundEvent rows, never
#: empty). Receivers run inside the caller's transaction when there is one (a poll stores
#: a page and its cursor together), so a receiver that fails makes the page be fetched again.
events_stored = Signal()
