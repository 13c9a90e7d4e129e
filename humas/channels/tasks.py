"""Background work of the channels app, run by ``humas worker``."""

from __future__ import annotations

from django_tasks import task


@task()
def send_telegram_alerts(notification_ids: list[int], attempt: int = 1) -> int:
    """Send notifications to their people's linked Telegram chats (see
    :func:`humas.channels.alerts.deliver_alerts`, which also schedules the retries)."""
    from humas.channels.alerts import deliver_alerts

    return deliver_alerts(notification_ids, attempt=attempt)
