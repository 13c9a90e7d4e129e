"""Periodic work of analytics: metric snapshots (see :mod:`humas.analytics.snapshots`)."""

from __future__ import annotations

import logging

from humas.analytics import transparency
from humas.analytics.models import TransparencyPage
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


# Hourly, though the figures change once a day: each organisation's day ends at its own
# local midnight (WIB, WITA, WIT), and a worker that was stopped at midnight catches up
# within the hour.
@register_job("analytics.update_transparency", interval_seconds=3600)
def update_transparency() -> int:
    """Recompute the published transparency pages whose figures miss the last local day;
    one organisation's failure does not stop the others."""
    updated = 0
    for page in TransparencyPage.objects.filter(enabled=True).select_related("organisation"):
        try:
            if transparency.is_current(page):
                continue
            transparency.refresh(page)
        except Exception:
            logger.exception("transparency figures for %s failed", page.organisation)
            continue
        updated += 1
    return updated


# Hourly: the first working day starts at local midnight in three time zones, and a report
# is due from then on; the lease covers building a PDF per schedule.
@register_job("analytics.send_monthly_reports", interval_seconds=3600, lease_seconds=1800)
def send_monthly_reports() -> int:
    """Last month's report to each enabled schedule's recipients, on the organisation's first
    working day of the month (or the first run after it); one schedule's failure does not
    stop the others."""
    from humas.accounts.audit import Actor
    from humas.analytics import reports
    from humas.analytics.actions import send_scheduled_report
    from humas.analytics.models import ReportSchedule
    from humas.analytics.periods import today_in

    sent = 0
    schedules = ReportSchedule.objects.filter(enabled=True).select_related("organisation")
    for schedule in schedules:
        org = schedule.organisation
        today = today_in(org)
        month = reports.month_reported(today)
        if schedule.last_sent_month is not None and schedule.last_sent_month >= month.first:
            continue
        if not reports.delivery_due(org, today):
            continue
        try:
            sent += send_scheduled_report(
                schedule, today=today, by=Actor.system("analytics.send_monthly_reports")
            )
        except Exception:
            logger.exception("monthly report of schedule %s (%s) failed", schedule.pk, org)
    return sent
