"""The spike job on a real database: alerts raised once, kept up to date, told, ended."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from django.core import mail
from django.urls import reverse

from humas.accounts.audit import Actor
from humas.accounts.models import AuditEntry, Membership, Notification
from humas.accounts.roles import Role
from humas.accounts.testing import make_member
from humas.channels.tests.fakes import fake_network  # noqa: F401  (fixture)
from humas.crisis import actions
from humas.crisis.models import SpikeAlert
from humas.crisis.testing import arrive
from humas.inbox.contacts import erase_citizen
from humas.inbox.models import RoutingRule
from humas.publishing.testing import make_channel

pytestmark = pytest.mark.django_db

#: 10:00 in Jakarta on a Wednesday.
NOW = datetime(2026, 11, 4, 3, 0, tzinfo=UTC)
BURST = "Lampu jalan mati total di Cipinang"


def history(channel, days=5, per_day=1):
    """``per_day`` messages in the same hour on each of the previous ``days`` days."""
    times = [
        NOW - timedelta(days=d, minutes=30 + i) for d in range(1, days + 1) for i in range(per_day)
    ]
    return arrive(channel, "Terima kasih atas pelayanannya", times)


def burst(channel, n=8, text=BURST, **kwargs):
    return arrive(channel, text, [NOW - timedelta(minutes=50 - i) for i in range(n)], **kwargs)


@pytest.fixture
def channel(org, fake_network):  # noqa: F811
    return make_channel(org, "pemkot-satu")


@pytest.fixture
def other_channel(other_org, fake_network):  # noqa: F811
    return make_channel(other_org, "pemkot-dua")


def on_duty(org, email, role, **kwargs):
    person = make_member(org, email, role, **kwargs)
    Membership.objects.filter(user=person, organisation=org).update(on_duty=True)
    return person


@pytest.fixture
def piket(org):
    return on_duty(org, "piket@satu.go.id", Role.RESPONDER)


def test_a_burst_raises_one_alert_per_key_and_tells_the_on_duty_members(
    org, channel, piket, admin, unit, django_capture_on_commit_callbacks
):
    # On duty but without the whole inbox: the alert page is closed to them, so not told.
    on_duty(org, "agen@satu.go.id", Role.UNIT_AGENT, unit=unit)
    history(channel)
    messages = burst(channel)
    with django_capture_on_commit_callbacks(execute=True):
        raised = actions.detect_spikes(org, NOW)
    by_key = {(a.signal, a.key): a for a in raised}
    assert set(by_key) == {("inbound", ""), ("inbound", "lampu"), ("inbound", "cipinang")} | {
        ("inbound", w) for w in ("jalan", "mati", "total")
    }
    whole = by_key[("inbound", "")]
    assert whole.count == 8
    assert whole.expected == 1.0
    assert whole.p_value < 0.001
    assert by_key[("inbound", "cipinang")].key_kind == "place"
    assert set(whole.messages.all()) == set(messages)
    told = Notification.objects.filter(kind="crisis.spike")
    assert {n.user for n in told} == {piket}
    assert told.filter(url=reverse("crisis:spike", args=[whole.pk])).exists()
    assert all(m.to == ["piket@satu.go.id"] for m in mail.outbox)
    assert len(mail.outbox) == len(raised)
    entries = AuditEntry.objects.filter(action="crisis.spike.raised")
    assert entries.count() == len(raised)
    assert entries.get(target_id=str(whole.pk)).payload["count"] == 8


def test_steady_traffic_raises_nothing(org, channel, piket):
    history(channel, days=6, per_day=8)
    arrive(
        channel, "Terima kasih atas pelayanannya", [NOW - timedelta(minutes=m) for m in range(9)]
    )
    assert actions.detect_spikes(org, NOW) == []
    assert not SpikeAlert.objects.exists()


def test_a_new_organisation_is_not_alerted_on_its_first_messages(org, channel, piket):
    burst(channel, n=40)
    assert actions.detect_spikes(org, NOW) == []


def test_with_nobody_on_duty_the_admins_are_told(org, channel, admin):
    history(channel)
    burst(channel)
    actions.detect_spikes(org, NOW)
    assert set(Notification.objects.filter(kind="crisis.spike").values_list("user", flat=True)) == {
        admin.pk
    }


def test_the_next_run_updates_the_same_alert_instead_of_raising_another(org, channel, piket):
    history(channel)
    burst(channel)
    actions.detect_spikes(org, NOW)
    alerts = SpikeAlert.objects.count()
    told = Notification.objects.count()
    later = NOW + timedelta(minutes=5)
    more = arrive(channel, BURST, [NOW + timedelta(minutes=1), NOW + timedelta(minutes=2)])
    assert actions.detect_spikes(org, later) == []
    assert SpikeAlert.objects.count() == alerts
    assert Notification.objects.count() == told
    whole = SpikeAlert.objects.get(signal="inbound", key="")
    assert whole.window_end == later
    assert whole.count == 10
    assert whole.peak_count == 10
    assert set(more) <= set(whole.messages.all())
    assert AuditEntry.objects.filter(action="crisis.spike.raised").count() == alerts


def test_an_alert_ends_after_a_quiet_hour_and_a_new_burst_is_a_new_alert(org, channel, piket):
    history(channel)
    burst(channel)
    actions.detect_spikes(org, NOW)
    # Still within the cool-down: kept active.
    actions.detect_spikes(org, NOW + timedelta(minutes=30))
    assert SpikeAlert.objects.filter(is_active=True, key="").exists()
    actions.detect_spikes(org, NOW + timedelta(minutes=65))
    first = SpikeAlert.objects.get(key="", signal="inbound")
    assert not first.is_active
    assert first.ended_at == NOW + timedelta(minutes=65)
    again = NOW + timedelta(hours=3)
    arrive(channel, BURST, [again - timedelta(minutes=m) for m in range(1, 10)])
    (new,) = [a for a in actions.detect_spikes(org, again) if a.key == ""]
    assert new.pk != first.pk


def test_negative_and_emergency_messages_are_watched_on_their_own(org, channel, piket):
    history(channel)
    burst(channel, n=6, text="Tolong ada kebakaran", labels={"category": "emergency"})
    burst(channel, n=2, text="Jalan rusak parah", labels={"sentiment": "negative"})
    raised = {(a.signal, a.key) for a in actions.detect_spikes(org, NOW)}
    assert ("emergency", "") in raised
    assert ("emergency", "kebakaran") in raised
    # Two negative messages are below the minimum.
    assert not any(signal == "negative" for signal, _key in raised)


def test_a_label_corrected_by_a_person_wins_over_the_triage(org, channel, piket):
    history(channel)
    messages = burst(channel, n=6, text="Tolong ada kebakaran", labels={"category": "emergency"})
    for m in messages:
        m.corrections = {"category": "complaint"}
        m.save(update_fields=["corrections"])
    raised = {(a.signal, a.key) for a in actions.detect_spikes(org, NOW)}
    assert not any(signal == "emergency" for signal, _key in raised)


def test_the_organisations_own_place_names_become_place_alerts(org, channel, piket):
    RoutingRule.objects.create(organisation=org, name="Timur", places="Pasar Minggu")
    history(channel)
    burst(channel, n=7, text="Air PDAM mati sejak pagi, Pasar Minggu kering")
    alert = next(a for a in actions.detect_spikes(org, NOW) if a.key == "pasar minggu")
    assert alert.key_kind == "place"


def test_another_organisations_messages_are_never_counted(
    org, other_org, channel, other_channel, piket
):
    history(channel)
    history(other_channel)
    theirs = burst(other_channel, n=20)
    assert actions.detect_spikes(org, NOW) == []
    raised = actions.detect_spikes(other_org, NOW)
    assert raised
    assert all(set(a.messages.all()) <= set(theirs) for a in raised)
    assert not Notification.objects.filter(organisation=org, kind="crisis.spike").exists()


def test_blocked_citizens_and_spam_make_no_spike(org, channel, piket):
    history(channel)
    burst(channel, n=10, text="Promo slot gacor", labels={"category": "spam"})
    from humas.inbox.models import Contact

    flood = burst(channel, n=10, text="Pemkot tidak becus", author="troll")
    Contact.objects.filter(conversations__messages=flood[0]).update(blocked_at=NOW)
    assert actions.detect_spikes(org, NOW) == []


def test_the_job_watches_every_organisation_with_recent_messages(org, channel, piket, monkeypatch):
    from django.utils import timezone

    from humas.crisis.jobs import detect_spikes

    history(channel)
    burst(channel)
    monkeypatch.setattr(timezone, "now", lambda: NOW)
    assert detect_spikes() >= 1
    assert detect_spikes() == 0


def test_an_erased_citizens_message_leaves_the_alert_page(org, channel, piket, admin, as_user):
    history(channel)
    messages = burst(channel, text="Banjir, hubungi saya Budi Santoso")
    kept = arrive(channel, "Banjir juga di sini, warga lain", [NOW - timedelta(minutes=5)])
    actions.detect_spikes(org, NOW)
    alert = SpikeAlert.objects.get(key="", signal="inbound")
    erase_citizen(messages[0].conversation.contact, by=Actor.system("tests"))
    page = as_user(admin).get(reverse("crisis:spike", args=[alert.pk])).content.decode()
    assert f'data-testid="spike-message-{messages[0].pk}"' not in page
    assert f'data-testid="spike-message-{messages[1].pk}"' in page
    assert f'data-testid="spike-message-{kept[0].pk}"' in page
    # Seven of the eight burst messages are left, and the erased one's text is not shown.
    assert page.count("Budi Santoso") == 7


def test_citizens_html_is_escaped_on_the_page_and_absent_from_the_notification(
    org, channel, piket, as_user
):
    history(channel)
    burst(channel, text='<script>alert("x")</script> <b>Listrik</b> padam')
    actions.detect_spikes(org, NOW)
    alert = SpikeAlert.objects.get(key="", signal="inbound")
    page = as_user(piket).get(reverse("crisis:spike", args=[alert.pk])).content.decode()
    assert "&lt;script&gt;alert" in page
    assert '<script>alert("x")' not in page
    for note in Notification.objects.filter(kind="crisis.spike"):
        assert "<" not in note.title + note.body
        assert "script" not in note.title + note.body
