"""Named actions for tracked links: each in one transaction with one audit entry.

Counting clicks and recording conversions happen on public endpoints at volume and are not
audited (they change counters, not anything a person decided); see ``tracking.py`` and
:func:`record_conversion`.
"""

from __future__ import annotations

import secrets
from collections.abc import Sequence
from datetime import date
from decimal import Decimal
from urllib.parse import urlsplit

from django.core.mail import get_connection
from django.db import IntegrityError, transaction
from django.db.models import Q, QuerySet
from django.utils import timezone
from django.utils.translation import gettext as _

from humas.accounts.actions import ActionError
from humas.accounts.audit import Actor, record
from humas.accounts.models import Organisation, User
from humas.accounts.roles import roles_with
from humas.analytics import audit as content_audit
from humas.analytics import transparency
from humas.analytics.goals import problems
from humas.analytics.models import (
    AuditRubric,
    AuditScore,
    Conversion,
    ConversionSecret,
    ConversionSource,
    Goal,
    ReportSchedule,
    ScoreSource,
    TrackedLink,
    TransparencyPage,
    new_code,
)
from humas.analytics.tracking import local_day
from humas.channels.models import ChannelAccount, ChannelPost
from humas.lib import crypto
from humas.publishing.compose import tracked_link
from humas.publishing.models import Campaign, Post


def check_destination(url: str) -> str:
    parts = urlsplit(url.strip())
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise ActionError(_("The destination must be an http or https address."))
    return url.strip()


def _unused_code() -> str:
    # 2**48 codes: a clash is practically impossible, but checking costs one indexed lookup.
    while True:
        code = new_code()
        if not TrackedLink.objects.filter(code=code).exists():
            return code


def create_links(
    campaign: Campaign,
    *,
    destination: str,
    channels: Sequence[ChannelAccount] = (),
    post: Post | None = None,
    label: str = "",
    by: Actor,
) -> list[TrackedLink]:
    """One link per channel (or one without a channel), all in one audit entry.

    With a channel, the destination gets the campaign's UTM tags for that network (the same
    ones the composer adds), so the landing page's own analytics agree with humas's.
    """
    org = campaign.organisation
    destination = check_destination(destination)
    for channel in channels:
        if channel.organisation_id != org.pk:
            raise ActionError(_("That channel belongs to another organisation."))
    if post is not None and (post.organisation_id != org.pk or post.campaign_id != campaign.pk):
        raise ActionError(_("That post is not part of this campaign."))
    targets: list[ChannelAccount | None] = list(channels) or [None]
    with transaction.atomic():
        links = [
            TrackedLink.objects.create(
                organisation=org,
                code=_unused_code(),
                destination=(
                    tracked_link(destination, campaign, channel.network)
                    if channel is not None
                    else destination
                ),
                campaign=campaign,
                channel=channel,
                post=post,
                label=label,
                created_by=by.user,
            )
            for channel in targets
        ]
        record(
            "analytics.links.created",
            actor=by,
            organisation=org,
            target=campaign,
            payload={
                "codes": [link.code for link in links],
                "channels": [c.pk for c in channels],
                "post": post.pk if post else None,
                "destination": destination,
            },
        )
    return links


def deactivate_link(link: TrackedLink, *, by: Actor) -> TrackedLink:
    with transaction.atomic():
        updated = TrackedLink.objects.filter(pk=link.pk, is_active=True).update(
            is_active=False, deactivated_at=timezone.now()
        )
        if not updated:
            raise ActionError(_("This link is already inactive."))
        link.refresh_from_db()
        record(
            "analytics.link.deactivated",
            actor=by,
            organisation=link.organisation,
            target=link,
            payload={"code": link.code},
        )
    return link


def regenerate_conversion_secret(org: Organisation, *, by: Actor) -> str:
    """A new signing secret; the old one stops working at once."""
    secret = secrets.token_urlsafe(32)
    with transaction.atomic():
        ConversionSecret.objects.update_or_create(
            organisation=org, defaults={"secret_encrypted": crypto.encrypt(secret)}
        )
        # The secret itself never goes into the audit log, only that it changed.
        record("analytics.conversion_secret.regenerated", actor=by, organisation=org)
    return secret


def conversion_secret(org_id: int) -> str | None:
    row = ConversionSecret.objects.filter(organisation_id=org_id).first()
    return crypto.decrypt(row.secret_encrypted) if row else None


def record_conversion(
    link: TrackedLink,
    *,
    source: str,
    time_zone: str,
    dedupe_key: str | None = None,
    count: int = 1,
    value: Decimal | None = None,
    label: str = "",
) -> bool:
    """Store one conversion; False when one with the same ``dedupe_key`` already exists."""
    if source not in ConversionSource.values:
        raise ValueError(f"unknown conversion source {source!r}")
    try:
        # The savepoint lets a duplicate be refused without spoiling an outer transaction.
        with transaction.atomic():
            Conversion.objects.create(
                organisation_id=link.organisation_id,
                link=link,
                day=local_day(time_zone),
                count=count,
                value=value,
                label=label,
                source=source,
                dedupe_key=dedupe_key,
            )
    except IntegrityError:
        return False
    return True


# --- goals ---------------------------------------------------------------------------------


def _goal_payload(goal: Goal) -> dict[str, object]:
    return {
        "metric": goal.metric,
        "target": str(goal.target),
        "starts_on": goal.starts_on.isoformat(),
        "ends_on": goal.ends_on.isoformat(),
        "channel": goal.channel_id,
        "campaign": goal.campaign_id,
    }


def _check_goal(
    org: Organisation,
    *,
    metric: str,
    target: Decimal,
    starts_on: date,
    ends_on: date,
    channel: ChannelAccount | None,
    campaign: Campaign | None,
) -> Decimal:
    found = problems(
        org,
        metric=metric,
        channel=channel,
        campaign=campaign,
        target=target,
        starts_on=starts_on,
        ends_on=ends_on,
    )
    if found:
        raise ActionError(found[0][1])
    # Stored with two decimals; quantized here so the audit payload says what was stored.
    return target.quantize(Decimal("0.01"))


def create_goal(
    org: Organisation,
    *,
    metric: str,
    target: Decimal,
    starts_on: date,
    ends_on: date,
    channel: ChannelAccount | None = None,
    campaign: Campaign | None = None,
    by: Actor,
) -> Goal:
    target = _check_goal(
        org,
        metric=metric,
        target=target,
        starts_on=starts_on,
        ends_on=ends_on,
        channel=channel,
        campaign=campaign,
    )
    with transaction.atomic():
        goal = Goal.objects.create(
            organisation=org,
            metric=metric,
            target=target,
            starts_on=starts_on,
            ends_on=ends_on,
            channel=channel,
            campaign=campaign,
            created_by=by.user,
        )
        record(
            "analytics.goal.created",
            actor=by,
            organisation=org,
            target=goal,
            payload=_goal_payload(goal),
        )
    return goal


def update_goal(
    goal: Goal,
    *,
    metric: str,
    target: Decimal,
    starts_on: date,
    ends_on: date,
    channel: ChannelAccount | None = None,
    campaign: Campaign | None = None,
    by: Actor,
) -> Goal:
    target = _check_goal(
        goal.organisation,
        metric=metric,
        target=target,
        starts_on=starts_on,
        ends_on=ends_on,
        channel=channel,
        campaign=campaign,
    )
    with transaction.atomic():
        before = _goal_payload(goal)
        goal.metric, goal.target = metric, target
        goal.starts_on, goal.ends_on = starts_on, ends_on
        goal.channel, goal.campaign = channel, campaign
        goal.save()
        record(
            "analytics.goal.updated",
            actor=by,
            organisation=goal.organisation,
            target=goal,
            payload={"before": before, "after": _goal_payload(goal)},
        )
    return goal


def delete_goal(goal: Goal, *, by: Actor) -> None:
    with transaction.atomic():
        # Recorded first: the entry names the goal while its row still exists.
        record(
            "analytics.goal.deleted",
            actor=by,
            organisation=goal.organisation,
            target=goal,
            payload=_goal_payload(goal),
        )
        goal.delete()


# --- public transparency page ------------------------------------------------------------


def _transparency_page(org: Organisation) -> TransparencyPage:
    # Locked: two admins pressing at once must not both create the row or interleave.
    page, _created = TransparencyPage.objects.select_for_update().get_or_create(organisation=org)
    return page


def set_transparency(org: Organisation, *, enabled: bool, by: Actor) -> TransparencyPage:
    """Publish or withdraw the organisation's public transparency page.

    Publishing computes the figures at once when they are missing or older than yesterday,
    so the public page is never empty nor stale on its first day; the daily job keeps them
    up to date after that.
    """
    with transaction.atomic():
        page = _transparency_page(org)
        if page.enabled == enabled:
            raise ActionError(
                _("The transparency page is already published.")
                if enabled
                else _("The transparency page is not published.")
            )
        page.enabled = enabled
        page.save(update_fields=["enabled", "updated_at"])
        computed = False
        if enabled and not transparency.is_current(page):
            transparency.refresh(page)
            computed = True
        record(
            "analytics.transparency.published" if enabled else "analytics.transparency.withdrawn",
            actor=by,
            organisation=org,
            target=page,
            payload={"computed": computed},
        )
    return page


def recompute_transparency(org: Organisation, *, by: Actor) -> TransparencyPage:
    """Compute the figures now (for the preview, or after labels were corrected)."""
    with transaction.atomic():
        page = transparency.refresh(_transparency_page(org))
        record(
            "analytics.transparency.recomputed",
            actor=by,
            organisation=org,
            target=page,
            payload={"computed_for": page.computed_for},
        )
    return page


# --- content audit -------------------------------------------------------------------------

#: Enough answers for a person to choose from at a glance in a row's select.
MAX_RUBRIC_VALUES = 30
#: ``AuditScore.value``'s length.
VALUE_CHARS = 60


def _rubric_values(values: Sequence[str], *, builtin: bool) -> list[str]:
    cleaned: list[str] = []
    for value in values:
        value = " ".join(value.split())
        if value and value not in cleaned:
            cleaned.append(value)
    if builtin:
        # The built-in keys stay: the automatic scorer answers with them and their labels
        # are translated in code. People may only add their own after them.
        cleaned = [
            *content_audit.HOOK_KEYS,
            *(v for v in cleaned if v not in content_audit.HOOK_KEYS),
        ]
    too_long = [value for value in cleaned if len(value) > VALUE_CHARS]
    if too_long:
        raise ActionError(
            _("A value can be at most %(count)d characters long: %(value)s")
            % {"count": VALUE_CHARS, "value": too_long[0]}
        )
    if len(cleaned) < 2:
        raise ActionError(_("A rubric needs at least two values, one per line."))
    if len(cleaned) > MAX_RUBRIC_VALUES:
        raise ActionError(
            _("A rubric can have at most %(count)d values.") % {"count": MAX_RUBRIC_VALUES}
        )
    return cleaned


def save_rubric(
    org: Organisation,
    *,
    name: str,
    values: Sequence[str],
    rubric: AuditRubric | None = None,
    by: Actor,
) -> AuditRubric:
    """Create a rubric, or rename one and change its values (``rubric``).

    Values taken out of a rubric leave the posts that have them as they are: the results
    still show them, marked as no longer in the rubric, so no person's judgement is lost.
    """
    if rubric is not None and rubric.organisation_id != org.pk:
        raise ActionError(_("That rubric belongs to another organisation."))
    name = " ".join(name.split())
    if not name:
        raise ActionError(_("Give the rubric a name."))
    builtin = rubric is not None and content_audit.is_hook(rubric)
    cleaned = _rubric_values(values, builtin=builtin)
    with transaction.atomic():
        taken = AuditRubric.objects.filter(organisation=org, name=name)
        if rubric is not None:
            taken = taken.exclude(pk=rubric.pk)
        if taken.exists():
            raise ActionError(_("Another rubric already has this name."))
        payload: dict[str, object]
        if rubric is None:
            rubric = AuditRubric.objects.create(organisation=org, name=name, values=cleaned)
            action, payload = "analytics.audit_rubric.created", {"name": name, "values": cleaned}
        else:
            before = {"name": rubric.name, "values": rubric.values}
            rubric.name, rubric.values = name, cleaned
            rubric.save(update_fields=["name", "values"])
            action = "analytics.audit_rubric.updated"
            payload = {"before": before, "after": {"name": name, "values": cleaned}}
        record(action, actor=by, organisation=org, target=rubric, payload=payload)
    return rubric


def set_score(rubric: AuditRubric, post: ChannelPost, value: str, *, by: Actor) -> AuditScore:
    """A person's answer for one post; it replaces an automatic one and is never replaced
    by the automatic scorer."""
    if post.organisation_id != rubric.organisation_id or post.in_reply_to_id is not None:
        raise ActionError(_("That post cannot be scored with this rubric."))
    if value not in rubric.values:
        raise ActionError(_("Choose one of the rubric's values."))
    with transaction.atomic():
        previous = AuditScore.objects.select_for_update().filter(rubric=rubric, post=post).first()
        before = None if previous is None else {"value": previous.value, "source": previous.source}
        score, _created = AuditScore.objects.update_or_create(
            rubric=rubric,
            post=post,
            defaults={"value": value, "source": ScoreSource.PERSON, "scored_by": by.user},
        )
        record(
            "analytics.audit.scored",
            actor=by,
            organisation=rubric.organisation,
            target=post,
            payload={"rubric": rubric.pk, "value": value, "before": before},
        )
    return score


def score_automatically(rubric: AuditRubric, *, by: Actor) -> int:
    """Answer the hook rubric for every past post that has no answer yet; how many got one.

    Posts a person already answered are skipped; so is one answered by a person while this
    runs (the insert leaves an existing row alone). One audit entry with the count.
    """
    if not content_audit.is_hook(rubric):
        raise ActionError(_("Only the opening-hook rubric can be scored automatically."))
    org = rubric.organisation
    scores = content_audit.automatic_scores(org, rubric)
    with transaction.atomic():
        before = AuditScore.objects.filter(rubric=rubric).count()
        AuditScore.objects.bulk_create(scores, ignore_conflicts=True, batch_size=500)
        added = AuditScore.objects.filter(rubric=rubric).count() - before
        record(
            "analytics.audit.auto_scored",
            actor=by,
            organisation=org,
            target=rubric,
            payload={"rubric": rubric.name, "scored": added},
        )
    return added


# --- report schedules ----------------------------------------------------------------------


def report_recipients_allowed(org: Organisation) -> QuerySet[User]:
    """Who may receive the organisation's report by e-mail: its active members whose role
    may see reports in humas (an e-mail must not show more than the app would)."""
    roles = roles_with("reports.view")
    return User.objects.filter(
        memberships__organisation=org,
        memberships__is_active=True,
        memberships__role__in=roles,
        is_active=True,
    ).distinct()


def _check_schedule(org: Organisation, recipients: Sequence[User], language: str) -> list[User]:
    from humas.analytics.reports import LANGUAGES

    if language not in LANGUAGES:
        raise ActionError(_("Choose the report's language."))
    if not recipients:
        raise ActionError(_("Choose at least one recipient."))
    allowed = set(report_recipients_allowed(org).values_list("pk", flat=True))
    if any(user.pk not in allowed for user in recipients):
        raise ActionError(
            _("Reports can only be sent to active members who may see reports in humas.")
        )
    return list(recipients)


def _schedule_payload(schedule: ReportSchedule) -> dict[str, object]:
    return {
        "language": schedule.language,
        "enabled": schedule.enabled,
        "recipients": sorted(schedule.recipients.values_list("pk", flat=True)),
    }


def create_report_schedule(
    org: Organisation,
    *,
    recipients: Sequence[User],
    language: str,
    enabled: bool = True,
    today: date | None = None,
    by: Actor,
) -> ReportSchedule:
    """A monthly e-mailed report. Its first report is next month's delivery: a schedule
    made on the 15th does not send last month's report within the hour."""
    from humas.analytics.reports import first_working_day, month_reported

    people = _check_schedule(org, recipients, language)
    today = today or local_day(org.time_zone)
    # Once this month's first working day has come, this month's delivery (last month's
    # report) counts as done for the new schedule.
    already = month_reported(today).first if today >= first_working_day(org, today) else None
    with transaction.atomic():
        schedule = ReportSchedule.objects.create(
            organisation=org,
            language=language,
            enabled=enabled,
            last_sent_month=already,
            created_by=by.user,
        )
        schedule.recipients.set(people)
        record(
            "analytics.report_schedule.created",
            actor=by,
            organisation=org,
            target=schedule,
            payload=_schedule_payload(schedule),
        )
    return schedule


def update_report_schedule(
    schedule: ReportSchedule,
    *,
    recipients: Sequence[User],
    language: str,
    enabled: bool,
    by: Actor,
) -> ReportSchedule:
    people = _check_schedule(schedule.organisation, recipients, language)
    with transaction.atomic():
        before = _schedule_payload(schedule)
        schedule.language, schedule.enabled = language, enabled
        schedule.save(update_fields=["language", "enabled"])
        schedule.recipients.set(people)
        record(
            "analytics.report_schedule.updated",
            actor=by,
            organisation=schedule.organisation,
            target=schedule,
            payload={"before": before, "after": _schedule_payload(schedule)},
        )
    return schedule


def delete_report_schedule(schedule: ReportSchedule, *, by: Actor) -> None:
    with transaction.atomic():
        record(
            "analytics.report_schedule.deleted",
            actor=by,
            organisation=schedule.organisation,
            target=schedule,
            payload=_schedule_payload(schedule),
        )
        schedule.delete()


def send_scheduled_report(schedule: ReportSchedule, *, today: date, by: Actor) -> int:
    """E-mail last month's report to the schedule's recipients, once per month.

    Returns how many e-mails went out: 0 when the month was already sent (by an earlier run
    or another worker). The month is claimed and the e-mails sent in one transaction: if
    sending fails, the claim rolls back and the next run tries again; a second run that
    comes while the first is sending waits on the row and then finds the month taken.
    """
    from humas.analytics import reports

    org = schedule.organisation
    month = reports.month_reported(today)
    people = list(report_recipients_allowed(org).filter(pk__in=schedule.recipients.values("pk")))
    if not people:
        return 0
    # Built before the transaction: the PDF takes seconds and needs no lock.
    messages = reports.report_emails(schedule, month, [person.email for person in people])
    with transaction.atomic():
        claimed = (
            ReportSchedule.objects.filter(pk=schedule.pk, enabled=True)
            .filter(Q(last_sent_month__isnull=True) | Q(last_sent_month__lt=month.first))
            .update(last_sent_month=month.first)
        )
        if not claimed:
            return 0
        get_connection().send_messages(messages)
        record(
            "analytics.report.sent",
            actor=by,
            organisation=org,
            target=schedule,
            payload={
                "month": month.first.isoformat(),
                "language": schedule.language,
                "recipients": [person.pk for person in people],
            },
        )
    schedule.last_sent_month = month.first
    return len(messages)
