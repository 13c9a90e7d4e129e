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

#: Sent by the Telegram provider when someone opens a bot with a deep-link code
#: (``/start <code>`` in a private chat), instead of turning it into an inbound event. With
#: ``provider`` (the TelegramProvider, able to answer in the chat), ``channel_id`` (the
#: ChannelAccount's pk), ``chat_id``, ``code`` and ``language`` (the person's Telegram
#: language, "" if unknown). Sent with ``send_robust`` while the update is read, for webhook
#: deliveries and polls alike; the receiver (humas.channels.alerts) links the account.
bot_started = Signal()
