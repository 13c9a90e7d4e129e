"""Cases: opening one from a complaint, SP4N-LAPOR! deadlines, the timeline, forwarding,
resolving with a reply to the citizen, and who may see and work which case."""

from __future__ import annotations

import pytest
from django.urls import reverse

from humas.accounts import actions as account_actions
from humas.accounts.audit import Actor
from humas.accounts.models import AuditEntry, Notification
from humas.accounts.roles import Role
from humas.accounts.testing import make_member
from humas.channels.providers.base import Limits, ProviderError
from humas.inbox import cases
from humas.inbox.models import Case, CaseStatus, SendStatus, Status
from humas.lib.workdays import WorkCalendar

pytestmark = pytest.mark.django_db


def case_page(case):
    return reverse("inbox:case", args=[case.pk])


def test_tracking_numbers_are_readable_random_and_forgivingly_parsed():
    number = cases.new_tracking_number(2026)
    assert len(number) == len("LPR-2026-7KQ4-MX2D")
    assert number.startswith("LPR-2026-")
    assert set(number[9:].replace("-", "")) <= set(cases.CROCKFORD)
    assert cases.parse_tracking_number(" lpr 2026 7kq4 mx2d ") == "LPR-2026-7KQ4-MX2D"
    assert cases.parse_tracking_number("LPR-2026-7KQ4-MXOI") == "LPR-2026-7KQ4-MX01"
    for bad in ("", "LPR-2026-7KQ4", "XYZ-2026-7KQ4-MX2D", "LPR-2026-7KQ4-MX2U", "' OR 1=1"):
        assert cases.parse_tracking_number(bad) is None, bad


def test_a_complaint_becomes_a_case_with_lapor_deadlines(as_user, responder, say, org):
    conversation = say("Jalan rusak di RT 05")
    response = as_user(responder).post(reverse("inbox:case_open", args=[conversation.pk]))
    case = Case.objects.get(conversation=conversation)
    assert response["Location"] == case_page(case)
    assert case.status == CaseStatus.RECEIVED
    calendar = WorkCalendar(org.time_zone)
    assert case.forward_due == calendar.add_working_days(conversation.opened_at, 3)
    assert case.follow_up_due == calendar.add_working_days(conversation.opened_at, 5)
    assert case.close_due == calendar.add_working_days(conversation.opened_at, 10)
    assert [e.status for e in case.events.all()] == [CaseStatus.RECEIVED]
    assert AuditEntry.objects.filter(action="inbox.case.opened").count() == 1
    page = as_user(responder).get(reverse("inbox:conversation", args=[conversation.pk]))
    assert case.tracking_number in page.content.decode()


def test_only_complaints_become_cases_and_only_once(responder, say, labels):
    labels["#info"] = {"category": "information_request"}
    with pytest.raises(cases.ActionError):
        cases.open_case(say("Kapan buka? #info", author="a"), by=Actor(user=responder))
    conversation = say("Jalan rusak", author="b")
    cases.open_case(conversation, by=Actor(user=responder))
    with pytest.raises(cases.ActionError):
        cases.open_case(conversation, by=Actor(user=responder))


def test_a_tracking_number_collision_draws_again(responder, say, monkeypatch):
    first = cases.open_case(say("Jalan rusak", author="a"), by=Actor(user=responder))
    drawn = iter([first.tracking_number, "LPR-2026-AAAA-BBBB"])
    monkeypatch.setattr(cases, "new_tracking_number", lambda year: next(drawn))
    second = cases.open_case(say("Lampu mati", author="b"), by=Actor(user=responder))
    assert second.tracking_number == "LPR-2026-AAAA-BBBB"


def test_forwarding_progress_and_resolution_reach_the_citizen_on_their_channel(
    as_user, responder, agent, unit, say, fake_network, monkeypatch
):
    # The fake network takes 100 characters; the reply carries the status page's address.
    monkeypatch.setattr(fake_network, "limits", Limits(max_text=500))
    conversation = say("Jalan rusak di RT 05")
    case = cases.open_case(conversation, by=Actor(user=responder))
    client = as_user(responder)
    client.post(
        reverse("inbox:case_forward", args=[case.pk]),
        {"unit": unit.pk, "public_note": "Diteruskan ke Dinas", "internal_note": "cek cepat"},
    )
    case.refresh_from_db()
    assert (case.status, case.unit) == (CaseStatus.FORWARDED, unit)
    assert Notification.objects.filter(user=agent, kind="inbox.case_forwarded").exists()
    conversation.refresh_from_db()
    assert conversation.unit == unit

    agent_client = as_user(agent)
    agent_client.post(reverse("inbox:case_status", args=[case.pk]), {"status": "in_progress"})
    agent_client.post(
        reverse("inbox:case_status", args=[case.pk]),
        {"status": "resolved", "public_note": "Jalan sudah ditambal."},
    )
    case.refresh_from_db()
    assert case.status == CaseStatus.RESOLVED
    assert case.followed_up_at and case.resolved_at
    (sent,) = fake_network.published
    assert case.tracking_number in sent.text
    assert "Jalan sudah ditambal." in sent.text
    assert case.resolution_message is not None
    assert case.resolution_message.send_status == SendStatus.SENT
    conversation.refresh_from_db()
    assert conversation.status == Status.RESOLVED
    statuses = [e.status for e in case.events.all()]
    assert statuses == ["received", "forwarded", "in_progress", "resolved"]
    assert AuditEntry.objects.filter(action="inbox.case.status_changed").count() == 2


def test_a_refused_resolution_reply_is_shown_on_the_case_and_can_be_sent_again(
    as_user, responder, say, fake_network
):
    case = cases.open_case(say("Jalan rusak"), by=Actor(user=responder))
    cases.forward_case(case, _unit(case), by=Actor(user=responder))
    fake_network.error = ProviderError("thread is locked", "permanent")
    reply = cases.change_case_status(
        case, "resolved", public_note="Sudah diperbaiki", by=Actor(user=responder)
    )
    assert reply is not None and reply.send_status == SendStatus.FAILED
    client = as_user(responder)
    body = client.get(case_page(case)).content.decode()
    assert "thread is locked" in body
    assert 'data-testid="retry"' in body
    fake_network.error = None
    client.post(reverse("inbox:retry", args=[reply.pk]))
    reply.refresh_from_db()
    assert reply.send_status == SendStatus.SENT


def _unit(case):
    return account_actions.create_unit(
        case.organisation, name="Dinas PU", code="dpu", by=Actor.system()
    )


def test_a_resolution_needs_a_public_note_and_statuses_follow_the_flow(responder, say):
    case = cases.open_case(say("Jalan rusak"), by=Actor(user=responder))
    with pytest.raises(cases.ActionError):
        cases.change_case_status(case, "in_progress", by=Actor(user=responder))
    cases.forward_case(case, _unit(case), by=Actor(user=responder))
    with pytest.raises(cases.ActionError):
        cases.change_case_status(case, "resolved", by=Actor(user=responder))
    cases.change_case_status(case, "closed", by=Actor(user=responder))
    with pytest.raises(cases.ActionError):
        cases.change_case_status(case, "in_progress", by=Actor(user=responder))


def test_a_unit_agent_sees_and_works_only_their_units_cases(
    as_user, responder, agent, unit, org, say
):
    other_unit = account_actions.create_unit(org, name="Dinas PU", code="dpu", by=Actor.system())
    ours = cases.open_case(say("Puskesmas tutup", author="a"), by=Actor(user=responder))
    cases.forward_case(ours, unit, by=Actor(user=responder))
    theirs = cases.open_case(say("Jalan rusak", author="b"), by=Actor(user=responder))
    cases.forward_case(theirs, other_unit, by=Actor(user=responder))
    unrouted = cases.open_case(say("Lampu mati", author="c"), by=Actor(user=responder))
    client = as_user(agent)
    listing = client.get(reverse("inbox:case_list")).content.decode()
    assert ours.tracking_number in listing
    assert theirs.tracking_number not in listing
    assert unrouted.tracking_number not in listing
    assert client.get(case_page(ours)).status_code == 200
    assert client.get(case_page(theirs)).status_code == 404
    assert (
        client.post(reverse("inbox:case_status", args=[theirs.pk]), {"status": "closed"})
    ).status_code == 404
    # Choosing the unit is the central inbox's work.
    response = client.post(reverse("inbox:case_forward", args=[ours.pk]), {"unit": unit.pk})
    assert response.status_code == 403
    client.post(reverse("inbox:case_note", args=[ours.pk]), {"internal_note": "Petugas ke lokasi"})
    assert ours.events.filter(internal_note="Petugas ke lokasi").exists()
    stranger = make_member(org, "pu@satu.go.id", Role.UNIT_AGENT, unit=other_unit)
    assert as_user(stranger).get(case_page(ours)).status_code == 404


def test_every_case_url_is_404_for_another_organisation(as_user, other_admin, responder, say):
    case = cases.open_case(say("Jalan rusak"), by=Actor(user=responder))
    client = as_user(other_admin)
    assert client.get(case_page(case)).status_code == 404
    for name in ("case_forward", "case_status", "case_note"):
        response = client.post(reverse(f"inbox:{name}", args=[case.pk]), {"status": "closed"})
        assert response.status_code == 404, name
    assert case.tracking_number not in client.get(reverse("inbox:case_list")).content.decode()
    case.refresh_from_db()
    assert case.status == CaseStatus.RECEIVED


def test_notes_on_the_case_page_are_shown_as_text(as_user, responder, say):
    case = cases.open_case(say("Jalan rusak"), by=Actor(user=responder))
    client = as_user(responder)
    client.post(reverse("inbox:case_note", args=[case.pk]), {"public_note": "<script>x</script>"})
    body = client.get(case_page(case)).content.decode()
    assert "<script>x" not in body
    assert "&lt;script&gt;x" in body
