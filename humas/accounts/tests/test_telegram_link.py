"""Linking one's own Telegram for alerts on the Security page (the bot's side is tested in
humas/channels/providers/telegram/tests/test_alerts.py)."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from humas.accounts import actions
from humas.accounts.models import AuditEntry, TelegramLinkCode, User
from humas.accounts.testing import sign_in
from humas.channels.models import ChannelAccount

pytestmark = pytest.mark.django_db

DEEP_LINK = re.compile(r"https://t\.me/dinkeskota_bot\?start=(link_[A-Za-z0-9_-]+)")


@pytest.fixture(autouse=True)
def _english(editor):
    editor.language = "en"
    editor.save(update_fields=["language"])


@pytest.fixture
def alert_bot(org):
    return ChannelAccount.objects.create(
        organisation=org,
        network="telegram",
        external_id="-1001987654321",
        handle="@dinkeskota",
        config={"bot_id": 7012345678, "bot_username": "dinkeskota_bot"},
        sends_alerts=True,
    )


def security(client):
    return client.get(reverse("accounts:security")).content.decode()


def test_a_member_gets_a_deep_link_with_a_one_time_code(client, editor, org, alert_bot):
    sign_in(client, editor)
    assert "Link Telegram" in security(client)
    response = client.post(reverse("accounts:telegram_link"))
    assert response.status_code == 302
    assert response["Location"] == reverse("accounts:security")
    found = DEEP_LINK.search(security(client))
    assert found is not None
    stored = TelegramLinkCode.find(found.group(1))
    assert stored is not None
    assert (stored.user, stored.organisation, stored.used_at) == (editor, org, None)
    assert timedelta(minutes=14) < stored.expires_at - timezone.now() <= timedelta(minutes=15)
    # Only a hash is kept: a database dump cannot be used to link someone's account.
    assert found.group(1) not in stored.code_hash


def test_a_new_code_makes_the_older_one_useless(client, editor, org, alert_bot):
    first = actions.start_telegram_link(editor, org)
    actions.start_telegram_link(editor, org)
    assert TelegramLinkCode.find(first) is None
    assert TelegramLinkCode.objects.filter(user=editor).count() == 1


def test_the_deep_link_disappears_once_the_code_has_expired(client, editor, org, alert_bot):
    sign_in(client, editor)
    client.post(reverse("accounts:telegram_link"))
    session = client.session
    pending = session["humas_telegram_link"]
    pending["expires"] = (timezone.now() - timedelta(seconds=1)).isoformat()
    session["humas_telegram_link"] = pending
    session.save()
    page = security(client)
    assert DEEP_LINK.search(page) is None
    assert "Link Telegram" in page


def test_without_an_alert_bot_the_page_says_so_and_makes_no_code(client, editor):
    sign_in(client, editor)
    assert "has not chosen a Telegram bot for alerts" in security(client)
    client.post(reverse("accounts:telegram_link"))
    assert not TelegramLinkCode.objects.exists()
    assert "has not chosen a Telegram bot for alerts" in security(client)


def test_a_linked_member_sees_linked_and_can_unlink(client, editor, org, alert_bot):
    code = actions.start_telegram_link(editor, org)
    outcome, _ = actions.link_telegram(
        code, chat_id=5234567890, bot_id=7012345678, organisation=org
    )
    assert outcome == actions.TelegramLinkOutcome.LINKED
    sign_in(client, editor)
    page = security(client)
    assert "Linked" in page and "Unlink" in page
    assert "5234567890" not in page
    response = client.post(reverse("accounts:telegram_unlink"))
    assert response.status_code == 302
    editor.refresh_from_db()
    assert (editor.telegram_chat_id, editor.telegram_bot_id) == (None, None)
    (entry,) = AuditEntry.objects.filter(action="accounts.user.telegram_unlinked")
    assert (entry.actor, entry.payload) == (editor, {"reason": "by_user"})
    assert "Link Telegram" in security(client)


def test_unlinking_when_nothing_is_linked_records_nothing(client, editor):
    sign_in(client, editor)
    client.post(reverse("accounts:telegram_unlink"))
    assert not AuditEntry.objects.filter(action="accounts.user.telegram_unlinked").exists()


def test_linking_and_unlinking_need_a_post(client, editor):
    sign_in(client, editor)
    assert client.get(reverse("accounts:telegram_link")).status_code == 405
    assert client.get(reverse("accounts:telegram_unlink")).status_code == 405


def test_a_member_links_only_their_own_account(client, editor, analyst, org, alert_bot):
    sign_in(client, editor)
    client.post(reverse("accounts:telegram_link"))
    assert set(TelegramLinkCode.objects.values_list("user", flat=True)) == {editor.pk}
    assert not User.objects.filter(telegram_chat_id__isnull=False).exists()
