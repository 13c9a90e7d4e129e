"""The monthly e-mailed report: the schedule actions and pages, and the hourly job that
sends last month's report once, on the organisation's first working day of the month."""

from __future__ import annotations

from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

import pytest
from django.core import mail
from django.urls import reverse

from humas.accounts import actions as accounts
from humas.accounts.audit import Actor
from humas.accounts.models import AuditEntry, Membership
from humas.accounts.testing import SYSTEM, make_member, make_org, sign_in
from humas.analytics import actions, jobs, reports
from humas.analytics.models import ReportSchedule

pytestmark = pytest.mark.django_db

WIB = ZoneInfo("Asia/Jakarta")
LIST = reverse("analytics:report_schedules")


def at(moment: datetime, monkeypatch) -> None:
    """Make "now" ``moment`` for the job (it reads the organisation's local day from it)."""
    monkeypatch.setattr("django.utils.timezone.now", lambda: moment.astimezone(UTC))


def schedule_for(org, people, language="en") -> ReportSchedule:
    # Made on a day before the month's delivery, so nothing counts as sent yet.
    return actions.create_report_schedule(
        org, recipients=people, language=language, today=date(2026, 10, 20), by=SYSTEM
    )


# --- the job ---------------------------------------------------------------------------------


def test_when_the_1st_is_a_sunday_the_report_goes_out_on_monday(monkeypatch, org, editor, analyst):
    schedule = schedule_for(org, [editor, analyst])
    # Sunday 1 November 2026: not a working day.
    at(datetime(2026, 11, 1, 9, tzinfo=WIB), monkeypatch)
    assert jobs.send_monthly_reports() == 0
    assert mail.outbox == []
    # Monday 2 November: October's report, one e-mail per recipient.
    at(datetime(2026, 11, 2, 7, tzinfo=WIB), monkeypatch)
    assert jobs.send_monthly_reports() == 2
    assert sorted(message.to[0] for message in mail.outbox) == [
        "analyst@satu.go.id",
        "editor@satu.go.id",
    ]
    message = mail.outbox[0]
    assert message.subject == "[humas] Kota Satu report for October 2026"
    names = [name for name, _content, _mime in message.attachments]
    assert names == ["laporan-kota-satu-2026-10.pdf", "laporan-kota-satu-2026-10.xlsx"]
    assert message.attachments[0][1].startswith(b"%PDF")
    schedule.refresh_from_db()
    assert schedule.last_sent_month == date(2026, 10, 1)


def test_it_is_sent_once_however_often_the_job_runs(monkeypatch, org, editor):
    schedule_for(org, [editor])
    at(datetime(2026, 11, 2, 7, tzinfo=WIB), monkeypatch)
    assert jobs.send_monthly_reports() == 1
    assert jobs.send_monthly_reports() == 0
    at(datetime(2026, 11, 3, 7, tzinfo=WIB), monkeypatch)
    assert jobs.send_monthly_reports() == 0
    assert len(mail.outbox) == 1
    assert AuditEntry.objects.filter(action="analytics.report.sent").count() == 1
    # And next month's goes out on its own first working day (Tuesday 1 December).
    at(datetime(2026, 12, 1, 7, tzinfo=WIB), monkeypatch)
    assert jobs.send_monthly_reports() == 1
    assert "November 2026" in mail.outbox[-1].subject


def test_a_national_holiday_and_the_weekend_after_it_are_skipped(monkeypatch, org, editor):
    schedule = schedule_for(org, [editor])
    ReportSchedule.objects.filter(pk=schedule.pk).update(last_sent_month=date(2026, 11, 1))
    # Friday 1 January 2027 is New Year's Day, then a weekend: Monday the 4th.
    for day in (1, 2, 3):
        at(datetime(2027, 1, day, 10, tzinfo=WIB), monkeypatch)
        assert jobs.send_monthly_reports() == 0
    at(datetime(2027, 1, 4, 10, tzinfo=WIB), monkeypatch)
    assert jobs.send_monthly_reports() == 1
    assert "December 2026" in mail.outbox[0].subject


def test_the_first_working_day_is_the_organisations_local_day(monkeypatch, org, editor):
    papua = make_org("Kota Tiga", time_zone="Asia/Jayapura")
    papuan = make_member(papua, "humas@tiga.go.id", "analyst")
    schedule_for(org, [editor])
    schedule_for(papua, [papuan])
    # 16:30 UTC on Sunday 1 November: still Sunday in Jakarta, already Monday in Jayapura.
    at(datetime(2026, 11, 1, 16, 30, tzinfo=UTC), monkeypatch)
    assert jobs.send_monthly_reports() == 1
    assert [message.to for message in mail.outbox] == [["humas@tiga.go.id"]]


def test_a_failing_organisation_does_not_stop_the_others(monkeypatch, org, other_org, editor):
    other = make_member(other_org, "editor@dua.go.id", "editor")
    schedule_for(org, [editor])
    schedule_for(other_org, [other])
    real = reports.report_emails

    def broken_for_kota_satu(schedule, period, addresses):
        if schedule.organisation_id == org.pk:
            raise RuntimeError("disk full")
        return real(schedule, period, addresses)

    monkeypatch.setattr(reports, "report_emails", broken_for_kota_satu)
    at(datetime(2026, 11, 2, 7, tzinfo=WIB), monkeypatch)
    assert jobs.send_monthly_reports() == 1
    assert [message.to for message in mail.outbox] == [["editor@dua.go.id"]]
    # Kota Satu's October is not marked sent (September was, before the schedule existed):
    # the next run tries again.
    assert ReportSchedule.objects.get(organisation=org).last_sent_month == date(2026, 9, 1)


def test_when_the_mail_server_fails_the_month_is_tried_again(monkeypatch, org, editor):
    schedule = schedule_for(org, [editor])
    at(datetime(2026, 11, 2, 7, tzinfo=WIB), monkeypatch)

    def refuse(self, messages):
        raise OSError("connection refused")

    monkeypatch.setattr("django.core.mail.backends.locmem.EmailBackend.send_messages", refuse)
    assert jobs.send_monthly_reports() == 0
    schedule.refresh_from_db()
    assert schedule.last_sent_month == date(2026, 9, 1)
    monkeypatch.undo()
    at(datetime(2026, 11, 2, 8, tzinfo=WIB), monkeypatch)
    assert jobs.send_monthly_reports() == 1


def test_the_email_is_in_the_schedules_language(monkeypatch, org, editor):
    schedule_for(org, [editor], language="id")
    at(datetime(2026, 11, 2, 7, tzinfo=WIB), monkeypatch)
    jobs.send_monthly_reports()
    (message,) = mail.outbox
    # The month's name, in Indonesian, comes from Django's own catalogue.
    assert "Oktober 2026" in message.subject
    assert "October" not in message.subject


def test_a_paused_schedule_and_a_member_who_left_get_nothing(monkeypatch, org, editor, analyst):
    paused = schedule_for(org, [editor])
    actions.update_report_schedule(
        paused, recipients=[editor], language="en", enabled=False, by=SYSTEM
    )
    schedule_for(org, [editor, analyst])
    leaving = Membership.objects.get(user=analyst, organisation=org)
    accounts.change_member(leaving, role=leaving.role, unit=None, is_active=False, by=SYSTEM)
    at(datetime(2026, 11, 2, 7, tzinfo=WIB), monkeypatch)
    assert jobs.send_monthly_reports() == 1
    assert [message.to for message in mail.outbox] == [["editor@satu.go.id"]]


# --- the actions -----------------------------------------------------------------------------


def test_a_schedule_made_mid_month_starts_with_next_months_report(monkeypatch, org, editor):
    schedule = actions.create_report_schedule(
        org, recipients=[editor], language="en", today=date(2026, 11, 15), by=SYSTEM
    )
    assert schedule.last_sent_month == date(2026, 10, 1)
    at(datetime(2026, 11, 15, 10, tzinfo=WIB), monkeypatch)
    assert jobs.send_monthly_reports() == 0
    assert reports.next_delivery(org, date(2026, 11, 15)) == date(2026, 12, 1)


def test_recipients_must_be_members_who_may_see_reports(org, other_org, editor):
    outsider = make_member(other_org, "admin@dua.go.id", "admin")
    responder = make_member(org, "responder@satu.go.id", "responder")
    with pytest.raises(accounts.ActionError):
        actions.create_report_schedule(org, recipients=[outsider], language="en", by=SYSTEM)
    with pytest.raises(accounts.ActionError):
        actions.create_report_schedule(org, recipients=[responder], language="en", by=SYSTEM)
    with pytest.raises(accounts.ActionError):
        actions.create_report_schedule(org, recipients=[], language="en", by=SYSTEM)
    with pytest.raises(accounts.ActionError):
        actions.create_report_schedule(org, recipients=[editor], language="jv", by=SYSTEM)
    assert not ReportSchedule.objects.exists()


def test_each_change_is_audited(org, admin, editor, analyst):
    by = Actor(user=admin)
    schedule = actions.create_report_schedule(org, recipients=[editor], language="id", by=by)
    actions.update_report_schedule(
        schedule, recipients=[editor, analyst], language="en", enabled=True, by=by
    )
    actions.delete_report_schedule(schedule, by=by)
    entries = AuditEntry.objects.filter(organisation=org, action__startswith="analytics.report")
    assert [entry.action for entry in entries.order_by("pk")] == [
        "analytics.report_schedule.created",
        "analytics.report_schedule.updated",
        "analytics.report_schedule.deleted",
    ]
    updated = entries.get(action="analytics.report_schedule.updated")
    assert updated.payload["after"]["recipients"] == sorted([editor.pk, analyst.pk])


# --- the pages -------------------------------------------------------------------------------


def test_an_administrator_schedules_the_monthly_email(client, org, admin, editor):
    sign_in(client, admin)
    response = client.post(
        LIST, {"recipients": [editor.pk], "language": "en", "enabled": "on"}, follow=True
    )
    assert response.status_code == 200
    schedule = ReportSchedule.objects.get(organisation=org)
    assert list(schedule.recipients.all()) == [editor]
    assert "editor@satu.go.id" in response.content.decode()


def test_the_form_offers_only_members_who_may_see_reports(client, org, other_org, admin, editor):
    make_member(org, "responder@satu.go.id", "responder")
    make_member(other_org, "admin@dua.go.id", "admin")
    sign_in(client, admin)
    page = client.get(LIST).content.decode()
    assert "editor@satu.go.id" in page
    assert "responder@satu.go.id" not in page
    assert "admin@dua.go.id" not in page


def test_an_editor_cannot_manage_schedules(client, org, editor, analyst):
    schedule = schedule_for(org, [analyst])
    sign_in(client, editor)
    assert client.get(LIST).status_code == 403
    assert client.post(LIST, {"recipients": [editor.pk], "language": "en"}).status_code == 403
    edit = reverse("analytics:report_schedule_edit", args=[schedule.pk])
    assert client.post(edit, {"recipients": [editor.pk], "language": "en"}).status_code == 403


def test_another_organisations_schedule_is_not_found(client, org, other_admin, editor):
    schedule = schedule_for(org, [editor])
    sign_in(client, other_admin)
    delete = reverse("analytics:report_schedule_delete", args=[schedule.pk])
    assert client.post(delete).status_code == 404
    assert ReportSchedule.objects.filter(pk=schedule.pk).exists()
