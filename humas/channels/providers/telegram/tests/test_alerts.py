"""On-duty alerts on Telegram: members link their chat with /start <code>, the alert bot writes.

The Bot API is faked with respx at the HTTP seam, with payloads from ../fixtures.
"""

from __future__ import annotations

import copy
import dataclasses
import json
from datetime import timedelta

import httpx
import pytest
from django.conf import settings
from django.urls import reverse
from django.utils import timezone

from humas.accounts import actions as accounts
from humas.accounts.audit import Actor
from humas.accounts.models import AuditEntry, Membership, Notification, TelegramLinkCode, User
from humas.accounts.roles import Role
from humas.accounts.testing import make_member
from humas.channels import actions
from humas.channels.alerts import MAX_ATTEMPTS, set_alert_bot
from humas.channels.models import ChannelAccount, InboundEvent

from .conftest import BOT_ID, answer, load, sent

pytestmark = pytest.mark.django_db

BUDI_ID = 5234567890  # the on-duty member's own Telegram account (update-start.json)


def start_update(code: str, *, chat_id: int = BUDI_ID, update_id: int = 431000305) -> dict:
    update = copy.deepcopy(load("update-start"))
    update["update_id"] = update_id
    update["message"]["text"] = f"/start {code}"
    update["message"]["chat"]["id"] = update["message"]["from"]["id"] = chat_id
    return update


def deliver(client, channel, update):
    """POST an Update to the channel's webhook address as Telegram does."""
    return client.post(
        reverse("channels:webhook", args=[channel.webhook_token]),
        data=json.dumps(update),
        content_type="application/json",
        HTTP_X_TELEGRAM_BOT_API_SECRET_TOKEN=channel.get_credentials()["webhook_secret"],
    )


@pytest.fixture
def alert_bot(channel, admin):
    set_alert_bot(channel, sends_alerts=True, by=Actor(user=admin))
    return channel


@pytest.fixture
def piket(org):
    """An on-duty responder who has not linked Telegram yet."""
    person = make_member(org, "piket@satu.go.id", Role.RESPONDER)
    person.language = "en"
    person.save(update_fields=["language"])
    Membership.objects.filter(user=person).update(on_duty=True)
    return person


def linked(user, chat_id=BUDI_ID, bot_id=BOT_ID):
    User.objects.filter(pk=user.pk).update(telegram_chat_id=chat_id, telegram_bot_id=bot_id)
    user.refresh_from_db()
    return user


@pytest.fixture
def send(api):
    return api.post("sendMessage").mock(return_value=answer("sendMessage-alert"))


# --- linking ------------------------------------------------------------------------------


def test_a_member_links_their_telegram_by_opening_the_alert_bot_with_their_code(
    client, alert_bot, piket, org, send
):
    code = accounts.start_telegram_link(piket, org)
    response = deliver(client, alert_bot, start_update(code))
    assert response.status_code == 200
    piket.refresh_from_db()
    assert (piket.telegram_chat_id, piket.telegram_bot_id) == (BUDI_ID, BOT_ID)
    reply = sent(send)
    assert reply["chat_id"] == BUDI_ID
    assert reply["text"].startswith("Linked.")
    assert "piket@satu.go.id" in reply["text"]
    (entry,) = AuditEntry.objects.filter(action="accounts.user.telegram_linked")
    assert (entry.target_id, entry.organisation_id) == (str(piket.pk), org.pk)


def test_the_start_message_with_a_code_never_lands_in_the_inbox(
    client, alert_bot, piket, org, send
):
    code = accounts.start_telegram_link(piket, org)
    response = deliver(client, alert_bot, start_update(code))
    assert response.json() == {"received": 0, "new": 0}
    assert not InboundEvent.objects.exists()


def test_a_member_links_through_polling_too(alert_bot, piket, org, api, send):
    code = accounts.start_telegram_link(piket, org)
    page = {"ok": True, "result": [start_update(code)]}
    api.post("getUpdates").mock(
        side_effect=[httpx.Response(200, json=page), answer("getUpdates-empty")]
    )
    assert actions.poll_channel(alert_bot) == 0
    piket.refresh_from_db()
    assert piket.telegram_chat_id == BUDI_ID
    assert not InboundEvent.objects.exists()


def test_an_unknown_code_gets_a_polite_answer_and_links_nobody(client, alert_bot, piket, send):
    deliver(client, alert_bot, start_update("link_notARealCode123"))
    assert sent(send)["text"].startswith("This link is not valid any more")
    assert not User.objects.filter(telegram_chat_id__isnull=False).exists()
    assert not InboundEvent.objects.exists()
    assert not AuditEntry.objects.filter(action="accounts.user.telegram_linked").exists()


def test_an_expired_code_gets_a_polite_answer_and_links_nobody(client, alert_bot, piket, org, send):
    code = accounts.start_telegram_link(piket, org)
    TelegramLinkCode.objects.update(expires_at=timezone.now() - timedelta(seconds=1))
    deliver(client, alert_bot, start_update(code))
    piket.refresh_from_db()
    assert piket.telegram_chat_id is None
    assert sent(send)["text"].startswith("This link is not valid any more")
    assert not InboundEvent.objects.exists()


def test_a_code_works_once_and_a_redelivered_update_does_not_link_twice(
    client, alert_bot, piket, org, send
):
    code = accounts.start_telegram_link(piket, org)
    deliver(client, alert_bot, start_update(code))
    deliver(client, alert_bot, start_update(code))  # Telegram retrying the same update
    deliver(client, alert_bot, start_update(code, chat_id=5999999999, update_id=431000306))
    piket.refresh_from_db()
    assert piket.telegram_chat_id == BUDI_ID
    assert AuditEntry.objects.filter(action="accounts.user.telegram_linked").count() == 1
    assert sent(send, 1)["text"].startswith("Linked.")
    assert sent(send, 2)["chat_id"] == 5999999999
    assert sent(send, 2)["text"].startswith("This link is not valid any more")


def test_a_code_made_in_another_organisation_does_not_link_through_this_bot(
    client, alert_bot, other_org, other_admin, send
):
    code = accounts.start_telegram_link(other_admin, other_org)
    deliver(client, alert_bot, start_update(code))
    other_admin.refresh_from_db()
    assert other_admin.telegram_chat_id is None


def test_a_start_link_that_is_not_humas_s_is_ignored_quietly(client, alert_bot, send):
    response = deliver(client, alert_bot, start_update("promo-banjir-2026"))
    assert response.status_code == 200
    assert not send.called
    assert not InboundEvent.objects.exists()


def test_a_citizen_s_ordinary_message_still_reaches_the_inbox(client, alert_bot, send):
    deliver(client, alert_bot, load("update-private-message"))
    assert InboundEvent.objects.count() == 1
    assert not send.called


# --- sending ------------------------------------------------------------------------------


@pytest.fixture
def sos(monkeypatch):
    """Texts with "#sos" are triaged as emergencies (the engine's own answer otherwise)."""
    import humas.triage
    from humas.triage import classify_many as real

    def classify_many(texts, organisation=None):
        found = real(texts, organisation=organisation)
        return [
            dataclasses.replace(f, category="emergency", urgency="critical") if "#sos" in t else f
            for t, f in zip(texts, found, strict=True)
        ]

    monkeypatch.setattr(humas.triage, "classify_many", classify_many)


def citizen_says(client, channel, text):
    update = copy.deepcopy(load("update-private-message"))
    update["message"]["text"] = text
    return deliver(client, channel, update)


def test_an_emergency_reaches_a_linked_on_duty_member_on_telegram(
    client, alert_bot, piket, sos, send, django_capture_on_commit_callbacks
):
    linked(piket)
    with django_capture_on_commit_callbacks(execute=True):
        citizen_says(client, alert_bot, "Banjir setinggi dada di Sukamaju, tolong #sos")
    (note,) = Notification.objects.filter(kind="inbox.emergency")
    message = sent(send)
    assert message["chat_id"] == BUDI_ID
    assert "parse_mode" not in message
    assert message["text"] == (f"{note.title}\n\n{note.body}\n\n{settings.SITE_URL}{note.url}")
    assert "Banjir setinggi dada" in message["text"]


def test_only_linked_members_who_are_on_duty_are_written_to(
    client, org, alert_bot, piket, sos, send, django_capture_on_commit_callbacks
):
    linked(piket)
    make_member(org, "piket2@satu.go.id", Role.RESPONDER)  # on duty, not linked
    Membership.objects.filter(user__email="piket2@satu.go.id").update(on_duty=True)
    off_duty = make_member(org, "libur@satu.go.id", Role.RESPONDER)
    linked(off_duty, chat_id=5111111111)
    with django_capture_on_commit_callbacks(execute=True):
        citizen_says(client, alert_bot, "Kebakaran di pasar #sos")
    assert Notification.objects.filter(kind="inbox.emergency").count() == 2
    assert [sent(send, i)["chat_id"] for i in range(send.call_count)] == [BUDI_ID]


def test_markup_in_a_citizen_s_words_is_sent_as_plain_text(
    org, alert_bot, piket, send, django_capture_on_commit_callbacks
):
    linked(piket)
    with django_capture_on_commit_callbacks(execute=True):
        accounts.notify(
            org,
            [piket],
            kind="inbox.emergency",
            title="Emergency: <b>Siti</b>",
            body="<script>alert('x')</script> & <a href='http://x'>klik</a>",
            url="/inbox/1/",
            telegram=True,
        )
    message = sent(send)
    assert "parse_mode" not in message
    assert "<script>alert('x')</script> & <a href='http://x'>klik</a>" in message["text"]
    assert message["text"].startswith("Emergency: <b>Siti</b>")


def test_a_member_who_blocked_the_bot_is_unlinked_and_told_in_humas(
    org, alert_bot, piket, api, django_capture_on_commit_callbacks
):
    linked(piket)
    api.post("sendMessage").mock(return_value=answer("error-blocked", 403))
    with django_capture_on_commit_callbacks(execute=True):
        ids = accounts.notify(
            org, [piket], kind="inbox.emergency", title="Emergency", telegram=True
        )
    assert ids
    piket.refresh_from_db()
    assert piket.telegram_chat_id is None
    (told,) = Notification.objects.filter(user=piket, kind="accounts.telegram_unlinked")
    assert "blocked by the user" in told.body
    assert told.url == reverse("accounts:security")
    (entry,) = AuditEntry.objects.filter(action="accounts.user.telegram_unlinked")
    assert entry.payload == {"reason": "unreachable"}
    assert alert_bot.__class__.objects.get(pk=alert_bot.pk).status == "active"


@pytest.mark.parametrize(
    "failure",
    [httpx.ReadTimeout("no answer"), answer("error-bad-gateway", 502)],
    ids=["timeout", "bad-gateway"],
)
def test_a_network_error_is_tried_again_by_the_task(
    org, alert_bot, piket, api, failure, django_capture_on_commit_callbacks
):
    linked(piket)
    route = api.post("sendMessage").mock(side_effect=[failure, answer("sendMessage-alert")])
    with django_capture_on_commit_callbacks(execute=True):
        accounts.notify(org, [piket], kind="inbox.emergency", title="Emergency", telegram=True)
    assert route.call_count == 2
    assert sent(route)["chat_id"] == BUDI_ID


def test_telegram_out_of_reach_is_given_up_after_a_few_tries_without_an_error(
    org, alert_bot, piket, api, django_capture_on_commit_callbacks
):
    linked(piket)
    route = api.post("sendMessage").mock(side_effect=httpx.ReadTimeout("no answer"))
    with django_capture_on_commit_callbacks(execute=True):
        ids = accounts.notify(
            org, [piket], kind="inbox.emergency", title="Emergency", telegram=True
        )
    assert Notification.objects.filter(pk__in=ids).count() == 1
    assert route.call_count == MAX_ATTEMPTS
    piket.refresh_from_db()
    assert piket.telegram_chat_id == BUDI_ID  # not the person's fault: still linked


def test_without_an_alert_bot_nothing_is_sent_and_nothing_fails(
    client, org, channel, piket, sos, send, django_capture_on_commit_callbacks
):
    linked(piket)
    with django_capture_on_commit_callbacks(execute=True):
        response = citizen_says(client, channel, "Banjir #sos")
    assert response.status_code == 200
    assert Notification.objects.filter(kind="inbox.emergency", user=piket).exists()
    assert not send.called


def test_a_member_linked_through_another_bot_is_not_written_to_by_this_one(
    org, alert_bot, piket, send, django_capture_on_commit_callbacks
):
    linked(piket, bot_id=6000000001)
    with django_capture_on_commit_callbacks(execute=True):
        accounts.notify(org, [piket], kind="inbox.emergency", title="Emergency", telegram=True)
    assert not send.called


def test_notifications_without_telegram_stay_off_telegram(
    org, alert_bot, piket, send, django_capture_on_commit_callbacks
):
    linked(piket)
    with django_capture_on_commit_callbacks(execute=True):
        accounts.notify(org, [piket], kind="inbox.assigned", title="Assigned to you")
    assert not send.called


def test_a_revoked_bot_token_asks_for_reconnection_and_does_not_raise(
    org, alert_bot, piket, api, django_capture_on_commit_callbacks
):
    linked(piket)
    api.post("sendMessage").mock(return_value=answer("error-unauthorized", 401))
    with django_capture_on_commit_callbacks(execute=True):
        accounts.notify(org, [piket], kind="inbox.emergency", title="Emergency", telegram=True)
    assert ChannelAccount.objects.get(pk=alert_bot.pk).status == "needs_reconnection"
    piket.refresh_from_db()
    assert piket.telegram_chat_id == BUDI_ID


# --- the provider's part ----------------------------------------------------------------


@pytest.fixture
def announced():
    from humas.channels.signals import bot_started

    heard: list[dict] = []

    def listen(sender, **kwargs):
        heard.append(kwargs)

    bot_started.connect(listen, dispatch_uid="test.heard")
    yield heard
    bot_started.disconnect(dispatch_uid="test.heard")


def test_the_provider_announces_a_private_start_code_instead_of_making_an_event(
    provider, announced
):
    assert provider.events_from_update(start_update("link_abc")) == []
    (heard,) = announced
    assert (heard["chat_id"], heard["code"], heard["language"]) == (BUDI_ID, "link_abc", "en")
    assert heard["provider"] is provider


def test_a_start_code_written_in_a_group_is_not_a_link_request(provider, announced):
    update = start_update("link_abc")
    update["message"]["chat"] = {"id": -1001876543210, "type": "supergroup", "title": "Diskusi"}
    provider.events_from_update(update)
    assert announced == []


def test_a_failing_receiver_does_not_stop_the_rest_of_the_page(provider):
    from humas.channels.signals import bot_started

    def broken(sender, **kwargs):
        raise RuntimeError("database away")

    bot_started.connect(broken, dispatch_uid="test.broken")
    try:
        assert provider.events_from_update(start_update("link_abc")) == []
        assert len(provider.events_from_update(load("update-private-message"))) == 1
    finally:
        bot_started.disconnect(dispatch_uid="test.broken")
