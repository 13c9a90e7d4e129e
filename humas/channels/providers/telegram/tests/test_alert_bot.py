"""Choosing the organisation's alert bot on a Telegram channel's page: one per organisation."""

from __future__ import annotations

import pytest
from django.db import IntegrityError, transaction
from django.urls import reverse

from humas.accounts.audit import Actor
from humas.accounts.models import AuditEntry
from humas.channels.alerts import alert_bot, set_alert_bot
from humas.channels.models import ChannelAccount, ChannelStatus
from humas.channels.tests.fakes import fake_network  # noqa: F401  (fixture)

pytestmark = pytest.mark.django_db


@pytest.fixture
def second_bot(org):
    """Another Telegram channel of the organisation, with its own bot."""
    return ChannelAccount.objects.create(
        organisation=org,
        network="telegram",
        external_id="-1001555555555",
        handle="@bpbdkota",
        config={"chat_id": -1001555555555, "bot_id": 7099999999, "bot_username": "bpbdkota_bot"},
    )


def choose(client, channel, on=True):
    return client.post(
        reverse("channels:alerts", args=[channel.pk]), {"sends_alerts": "on"} if on else {}
    )


def test_an_admin_makes_a_telegram_bot_the_alert_bot_on_the_channel_page(
    as_user, admin, org, channel
):
    client = as_user(admin)
    page = client.get(reverse("channels:detail", args=[channel.pk])).content.decode()
    # In Indonesian, the interface's default language.
    assert "Kirim peringatan dengan bot ini" in page
    response = choose(client, channel)
    assert response.status_code == 302
    assert alert_bot(org) == channel
    (entry,) = AuditEntry.objects.filter(action="channels.channel.alerts_on")
    assert entry.target_id == str(channel.pk)
    page = client.get(reverse("channels:detail", args=[channel.pk])).content.decode()
    assert "Berhenti mengirim peringatan" in page


def test_an_admin_stops_the_alert_bot(as_user, admin, org, channel):
    client = as_user(admin)
    choose(client, channel)
    choose(client, channel, on=False)
    assert alert_bot(org) is None
    assert AuditEntry.objects.filter(action="channels.channel.alerts_off").count() == 1


def test_choosing_a_second_bot_replaces_the_first(as_user, admin, org, channel, second_bot):
    client = as_user(admin)
    choose(client, channel)
    choose(client, second_bot)
    assert list(ChannelAccount.objects.filter(sends_alerts=True)) == [second_bot]
    entry = AuditEntry.objects.filter(action="channels.channel.alerts_on").latest("seq")
    assert entry.payload == {"replaced": [channel.pk]}


def test_the_database_refuses_two_alert_bots_in_one_organisation(channel, second_bot):
    ChannelAccount.objects.filter(pk=channel.pk).update(sends_alerts=True)
    with pytest.raises(IntegrityError), transaction.atomic():
        ChannelAccount.objects.filter(pk=second_bot.pk).update(sends_alerts=True)


def test_each_organisation_has_its_own_alert_bot(channel, other_org):
    ChannelAccount.objects.filter(pk=channel.pk).update(sends_alerts=True)
    theirs = ChannelAccount.objects.create(
        organisation=other_org, network="telegram", external_id="-1001444", handle="@dua"
    )
    set_alert_bot(theirs, sends_alerts=True, by=Actor.system())
    assert ChannelAccount.objects.filter(sends_alerts=True).count() == 2


def test_only_a_telegram_channel_may_send_alerts(as_user, admin, org, fake_network):  # noqa: F811
    from humas.channels.actions import connect_channel

    other = connect_channel(org, "fake", {"token": "t"}, by=Actor(user=admin))
    client = as_user(admin)
    page = client.get(reverse("channels:detail", args=[other.pk])).content.decode()
    assert "Send alerts with this bot" not in page
    response = choose(client, other)
    assert response.status_code == 302
    assert not ChannelAccount.objects.filter(sends_alerts=True).exists()
    with pytest.raises(IntegrityError), transaction.atomic():
        ChannelAccount.objects.filter(pk=other.pk).update(sends_alerts=True)


def test_a_channel_that_needs_reconnecting_cannot_become_the_alert_bot(as_user, admin, channel):
    ChannelAccount.objects.filter(pk=channel.pk).update(status=ChannelStatus.NEEDS_RECONNECTION)
    choose(as_user(admin), channel)
    assert not ChannelAccount.objects.filter(sends_alerts=True).exists()


def test_an_editor_sees_the_alert_bot_but_cannot_choose_it(as_user, editor, channel):
    client = as_user(editor)
    page = client.get(reverse("channels:detail", args=[channel.pk])).content.decode()
    assert "Peringatan ke anggota" in page
    assert "Kirim peringatan dengan bot ini" not in page
    assert choose(client, channel).status_code == 403
    assert not ChannelAccount.objects.filter(sends_alerts=True).exists()


def test_another_organisation_s_admin_gets_404(as_user, other_admin, channel):
    assert choose(as_user(other_admin), channel).status_code == 404
    assert not ChannelAccount.objects.filter(sends_alerts=True).exists()


def test_choosing_needs_a_post(as_user, admin, channel):
    assert as_user(admin).get(reverse("channels:alerts", args=[channel.pk])).status_code == 405
