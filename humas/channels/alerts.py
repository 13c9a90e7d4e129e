"""On-duty alerts on Telegram: which bot sends them, linking members' chats, sending.

The accounts app owns the people (the linked chat on ``User``, the one-time link codes) and
asks, through its signals, for what only channels knows: which bot is the organisation's
alert bot, and how to write with it. Everything here answers those signals or is a named
action for the channel page; ``humas.channels.tasks.send_telegram_alerts`` does the sending.

Privacy: alerts leave the installation and sit in Telegram's cloud, so only what the caller
of ``notify(..., telegram=True)`` wrote goes out (the inbox masks citizens' personal data in
its bodies), and only to people who linked their own chat with a code shown to them signed in.
"""

from __future__ import annotations

import logging
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.db import transaction
from django.dispatch import receiver
from django.urls import reverse
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from humas.accounts.actions import (
    ActionError,
    TelegramLinkOutcome,
    link_telegram,
    notify,
    unlink_telegram,
)
from humas.accounts.audit import Actor, record
from humas.accounts.models import TELEGRAM_CODE_PREFIX, Notification, Organisation, User
from humas.accounts.signals import notifications_for_telegram, telegram_alert_bot_requested
from humas.channels.models import ChannelAccount, ChannelStatus
from humas.channels.providers.base import ErrorKind, ProviderError
from humas.channels.signals import bot_started

logger = logging.getLogger(__name__)

#: Attempts at one alert when Telegram cannot be reached, and the pause before each retry.
MAX_ATTEMPTS = 4
RETRY_DELAYS = (timedelta(seconds=30), timedelta(minutes=2), timedelta(minutes=10))
TELEGRAM_LANGUAGES = {"id", "en"}


def alert_bot(org: Organisation | int) -> ChannelAccount | None:
    """The organisation's active Telegram channel whose bot sends alerts, if any."""
    return ChannelAccount.objects.filter(
        organisation=org, sends_alerts=True, network="telegram", status=ChannelStatus.ACTIVE
    ).first()


# --- choosing the bot ---------------------------------------------------------------------


@transaction.atomic
def set_alert_bot(channel: ChannelAccount, *, sends_alerts: bool, by: Actor) -> None:
    """Make ``channel``'s bot the organisation's alert bot (replacing any other), or stop it.

    The organisation's channels are locked first, so two admins choosing different bots at
    the same moment end with the second choice, not with a constraint error.
    """
    if sends_alerts and channel.network != "telegram":
        raise ActionError(_("Only a Telegram channel's bot can send alerts to members."))
    if sends_alerts and channel.status != ChannelStatus.ACTIVE:
        raise ActionError(_("Connect this channel again before it sends alerts."))
    org_channels = ChannelAccount.objects.select_for_update().filter(
        organisation_id=channel.organisation_id
    )
    previous = [c.pk for c in org_channels if c.sends_alerts and c.pk != channel.pk]
    if sends_alerts:
        ChannelAccount.objects.filter(pk__in=previous).update(sends_alerts=False)
    ChannelAccount.objects.filter(pk=channel.pk).update(sends_alerts=sends_alerts)
    channel.sends_alerts = sends_alerts
    record(
        "channels.channel.alerts_on" if sends_alerts else "channels.channel.alerts_off",
        actor=by,
        organisation=channel.organisation,
        target=channel,
        payload={"replaced": previous} if sends_alerts and previous else {},
    )


@receiver(telegram_alert_bot_requested, dispatch_uid="channels.answer_alert_bot")
def answer_alert_bot(sender: Any, organisation: Organisation, **kwargs: Any) -> str:
    bot = alert_bot(organisation)
    username = bot.config.get("bot_username") if bot is not None else ""
    return username if isinstance(username, str) else ""


# --- linking a member's chat ----------------------------------------------------------------


@receiver(bot_started, dispatch_uid="channels.link_telegram")
def link_from_telegram(
    sender: Any,
    provider: Any,
    channel_id: int | None,
    chat_id: int,
    code: str,
    language: str = "",
    **kwargs: Any,
) -> None:
    """Someone opened a bot with ``/start <code>``: link their chat if the code is humas's.

    Other deep-link payloads are left alone (and, like a bare ``/start``, never reach the
    inbox). Whatever the outcome, the person is told in the chat.
    """
    if not code.startswith(TELEGRAM_CODE_PREFIX) or channel_id is None:
        return
    channel = (
        ChannelAccount.objects.filter(pk=channel_id, network="telegram")
        .select_related("organisation")
        .first()
    )
    if channel is None:
        return
    org = channel.organisation
    bot_id = channel.config.get("bot_id")
    outcome, user = link_telegram(
        code,
        chat_id=chat_id,
        bot_id=bot_id if isinstance(bot_id, int) else None,
        organisation=org,
    )
    if user is not None:
        answer_in = user.language or org.default_language
    else:
        answer_in = language[:2] if language[:2] in TELEGRAM_LANGUAGES else org.default_language
    with translation.override(answer_in):
        if outcome == TelegramLinkOutcome.INVALID:
            text = _(
                "This link is not valid any more: it works once and for 15 minutes. In humas, "
                "open Security and press “Link Telegram” again."
            )
        else:
            text = _(
                "Linked. Emergencies for %(email)s at %(org)s will also reach you in this chat "
                "while you are on duty. To stop, press “Unlink” on your Security page in humas."
            ) % {"email": user.email if user else "", "org": org.name}
    try:
        provider.send_private_message(chat_id, text)
    except ProviderError as exc:
        # The link itself is stored; the person sees it on their Security page.
        logger.warning("could not answer a Telegram link request on %s: %s", channel, exc)


# --- sending ------------------------------------------------------------------------------


@receiver(notifications_for_telegram, dispatch_uid="channels.send_telegram_alerts")
def queue_telegram_alerts(
    sender: Any, organisation: Organisation, notification_ids: list[int], **kwargs: Any
) -> None:
    if alert_bot(organisation) is None:
        return  # Telegram not configured here: humas and e-mail are enough.
    from humas.channels.tasks import send_telegram_alerts

    send_telegram_alerts.enqueue(notification_ids=list(notification_ids))


def alert_text(note: Notification) -> str:
    """Title, body and address of a notification, as plain text."""
    link = settings.SITE_URL + note.url if note.url.startswith("/") else note.url
    return "\n\n".join(part for part in (note.title, note.body.strip(), link) if part)


def deliver_alerts(notification_ids: list[int], *, attempt: int = 1) -> int:
    """Send these notifications privately to their people who linked Telegram; how many went.

    Each person gets the message from their organisation's alert bot, and only when they
    linked their chat through that bot (a bot may write only to people who started it).
    Telegram out of reach: retried later, up to :data:`MAX_ATTEMPTS`. The person blocked the
    bot (or no longer exists): unlinked and told in humas. The bot's token revoked: the
    channel asks for reconnection, as for any other work on it.
    """
    from humas.channels.actions import record_provider_error
    from humas.channels.providers.telegram.provider import recipient_unreachable

    notes = list(
        Notification.objects.filter(pk__in=notification_ids)
        .select_related("user", "organisation")
        .order_by("pk")
    )
    sent = 0
    retry: list[int] = []
    wait = timedelta(0)
    bots: dict[int, ChannelAccount | None] = {}
    for note in notes:
        user = note.user
        if not user.is_active or user.telegram_chat_id is None:
            continue
        if note.organisation_id not in bots:
            bots[note.organisation_id] = alert_bot(note.organisation_id)
        bot = bots[note.organisation_id]
        if bot is None:
            continue
        bot_id = bot.config.get("bot_id")
        if user.telegram_bot_id is not None and user.telegram_bot_id != bot_id:
            continue  # linked through another bot, which this one cannot speak for
        try:
            bot.provider().send_private_message(user.telegram_chat_id, alert_text(note))
        except ProviderError as exc:
            if exc.kind in (ErrorKind.TRANSIENT, ErrorKind.RATE_LIMITED):
                retry.append(note.pk)
                wait = max(wait, timedelta(seconds=exc.retry_after or 0))
            elif exc.kind == ErrorKind.AUTH:
                record_provider_error(bot, exc)
                bots[note.organisation_id] = None
            elif recipient_unreachable(exc):
                _stop_alerts_to(user, note.organisation, exc)
            else:
                logger.warning("Telegram refused an alert for user %s: %s", user.pk, exc)
            continue
        sent += 1
    if retry:
        _retry_later(retry, attempt=attempt, wait=wait)
    return sent


def _retry_later(notification_ids: list[int], *, attempt: int, wait: timedelta) -> None:
    from humas.channels.tasks import send_telegram_alerts

    if attempt >= MAX_ATTEMPTS:
        logger.warning("gave up sending alerts %s to Telegram", notification_ids)
        return
    delay = max(wait, RETRY_DELAYS[min(attempt, len(RETRY_DELAYS)) - 1])
    task = send_telegram_alerts
    if task.get_backend().supports_defer:
        task = task.using(run_after=timezone.now() + delay)
    task.enqueue(notification_ids=notification_ids, attempt=attempt + 1)


def _stop_alerts_to(user: User, org: Organisation, exc: ProviderError) -> None:
    """Unlink a person the bot may no longer write to, and tell them in humas."""
    if not unlink_telegram(
        user, by=Actor.system("telegram"), organisation=org, reason="unreachable"
    ):
        return
    with translation.override(user.language or org.default_language):
        notify(
            org,
            [user],
            kind="accounts.telegram_unlinked",
            title=_("Telegram alerts stopped"),
            body=_(
                "Telegram would not deliver alerts to you (%(reason)s), so your Telegram is no "
                "longer linked. If you blocked the bot, unblock it, then link Telegram again on "
                "your Security page."
            )
            % {"reason": getattr(exc, "description", "") or exc.message},
            url=reverse("accounts:security"),
        )
