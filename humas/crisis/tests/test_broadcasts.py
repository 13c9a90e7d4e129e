"""Emergency broadcasts: drafted from approved templates, checked against each channel's
limits, approved once by a designated approver, sent at top priority side by side, updates
threaded under the first, failures retryable; promotion held while the incident is active."""

from __future__ import annotations

import threading
import time
from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from humas.accounts.actions import ActionError
from humas.accounts.audit import Actor
from humas.accounts.models import AuditEntry
from humas.accounts.roles import Role
from humas.accounts.testing import make_member
from humas.channels.providers.base import Capabilities, ErrorKind, PostContent, ProviderError
from humas.channels.tests.fakes import FakeProvider, fake_network  # noqa: F401 (fixture)
from humas.crisis import broadcasts
from humas.crisis import incidents as incident_actions
from humas.crisis.models import (
    Broadcast,
    BroadcastApprover,
    BroadcastStatus,
    BroadcastTemplate,
    IncidentEventKind,
)
from humas.publishing import actions as publishing
from humas.publishing.delivery import deliver_due, deliver_side_by_side, deliver_urgent
from humas.publishing.models import Delivery, DeliveryStatus, PostStatus, PublishingPause
from humas.publishing.testing import make_channel, make_post

pytestmark = pytest.mark.django_db

VALUES = {
    "area": "Kec. Coblong",
    "time": "14.30 WIB",
    "shelter": "GOR Pajajaran",
    "hotline": "112",
    "instructions": "Menuju tempat tinggi.",
}


class RoomyFake(FakeProvider):
    """The fake network with room for a whole broadcast (the plain fake takes 100 chars)."""

    limits = FakeProvider.limits.__class__(max_text=1000)


@pytest.fixture
def network(fake_network, monkeypatch):  # noqa: F811
    from humas.channels import providers

    monkeypatch.setitem(providers.REGISTRY, "fake", f"{__name__}.RoomyFake")
    providers.provider_class.cache_clear()
    yield RoomyFake
    providers.provider_class.cache_clear()


@pytest.fixture
def approver(org):
    return make_member(org, "approver@satu.go.id", Role.APPROVER)


@pytest.fixture
def incident(org, admin):
    return incident_actions.declare_incident(
        org, by=Actor(user=admin), hazard="flood", title="Banjir Coblong", area="Kec. Coblong"
    )


@pytest.fixture
def channels(org):
    return [make_channel(org, "satu"), make_channel(org, "dua")]


def draft(incident, user, channels, **extra):
    return broadcasts.draft_broadcast(
        incident,
        by=Actor(user=user),
        hazard=extra.pop("hazard", "flood"),
        languages=extra.pop("languages", ["id", "en"]),
        values=extra.pop("values", VALUES),
        channels=channels,
    )


def test_a_draft_fills_the_hazards_approved_templates_in_each_language(
    incident, admin, channels, network
):
    broadcast = draft(incident, admin, channels)
    assert broadcast.status == BroadcastStatus.DRAFT
    assert set(broadcast.texts) == {"id", "en"}
    for text in broadcast.texts.values():
        assert "Kec. Coblong" in text and "112" in text and "{" not in text
    assert broadcasts.unfilled(broadcast) == []


def test_a_language_without_an_approved_template_cannot_be_drafted(
    org, incident, admin, channels, network
):
    broadcasts.approved_templates(org, "flood")
    BroadcastTemplate.objects.filter(organisation=org, hazard="flood", language="en").update(
        approved_at=None
    )
    with pytest.raises(ActionError, match="templat yang disetujui"):
        draft(incident, admin, channels)


def test_a_proposed_incident_gets_no_broadcast_until_confirmed(org, admin, channels, network):
    incident = incident_actions.declare_incident(
        org, by=Actor(user=admin), hazard="flood", title="Banjir"
    )
    type(incident).objects.filter(pk=incident.pk).update(status="proposed")
    incident.refresh_from_db()
    with pytest.raises(ActionError, match="insiden yang aktif"):
        draft(incident, admin, channels)


def test_approving_makes_one_urgent_post_due_now_on_every_channel_audited_and_on_the_timeline(
    incident, admin, channels, network
):
    broadcast = draft(incident, admin, channels)
    before = timezone.now()
    broadcasts.approve_broadcast(broadcast, by=Actor(user=admin))
    broadcast.refresh_from_db()
    assert broadcast.status == BroadcastStatus.APPROVED and broadcast.approved_by == admin
    post = broadcast.post
    assert post.urgent and post.status == PostStatus.SCHEDULED
    deliveries = list(post.deliveries.all())
    assert {d.channel_id for d in deliveries} == {c.pk for c in channels}
    assert all(d.urgent and d.status == DeliveryStatus.PENDING for d in deliveries)
    assert all(d.due_at <= timezone.now() and d.due_at >= before for d in deliveries)
    # The fake network has no threads: the English text follows the Indonesian in one post.
    variant = post.variants.first()
    assert broadcast.texts["en"] in variant.text and variant.thread == []
    assert AuditEntry.objects.filter(action="crisis.broadcast.approved").count() == 1
    assert incident.events.filter(kind=IncidentEventKind.BROADCAST, broadcast=broadcast).exists()


def test_approving_twice_sends_once_and_says_so(incident, admin, channels, network):
    broadcast = draft(incident, admin, channels)
    broadcasts.approve_broadcast(broadcast, by=Actor(user=admin))
    with pytest.raises(ActionError, match="sekali"):
        broadcasts.approve_broadcast(broadcast, by=Actor(user=admin))
    assert Delivery.objects.filter(urgent=True).count() == len(channels)
    assert AuditEntry.objects.filter(action="crisis.broadcast.approved").count() == 1


@pytest.mark.django_db(transaction=True)
def test_two_approvers_at_the_same_moment_send_it_once(org, admin, approver, channels, network):
    incident = incident_actions.declare_incident(
        org, by=Actor(user=admin), hazard="flood", title="Banjir"
    )
    broadcast = draft(incident, admin, channels)
    outcomes: list[str] = []
    start = threading.Barrier(2)

    def approve(user):
        from django.db import connections

        try:
            start.wait()
            broadcasts.approve_broadcast(
                Broadcast.objects.get(pk=broadcast.pk), by=Actor(user=user)
            )
            outcomes.append("sent")
        except ActionError:
            outcomes.append("refused")
        except Exception as exc:  # SQLite answers a concurrent write with "locked"
            outcomes.append(f"error: {exc}")
        finally:
            connections.close_all()

    threads = [threading.Thread(target=approve, args=(u,)) for u in (admin, approver)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert outcomes.count("sent") == 1, outcomes
    assert Delivery.objects.filter(urgent=True).count() == len(channels)


def test_only_a_designated_approver_approves_once_any_is_designated(
    org, incident, admin, approver, channels, network
):
    BroadcastApprover.objects.create(organisation=org, user=approver)
    broadcast = draft(incident, admin, channels)
    with pytest.raises(ActionError, match="ditunjuk"):
        broadcasts.approve_broadcast(broadcast, by=Actor(user=admin))
    # The designated approver may approve a broadcast someone else wrote (the fast path).
    broadcasts.approve_broadcast(broadcast, by=Actor(user=approver))
    assert Broadcast.objects.get(pk=broadcast.pk).approved_by == approver


def test_an_editor_cannot_be_designated_as_approver(org, editor, admin):
    with pytest.raises(ActionError, match="menyatakan insiden"):
        broadcasts.set_approvers(org, by=Actor(user=admin), users=[editor])


def test_a_text_too_long_for_a_channel_is_shown_and_refused(
    incident,
    admin,
    channels,
    network,
    fake_network,  # noqa: F811
):
    broadcast = draft(incident, admin, channels)
    broadcast.texts = {"id": "x" * 1500, "en": "y"}
    broadcast.save()
    problems = broadcasts.limit_problems(broadcast)
    assert all(problems[c.pk] for c in channels)
    with pytest.raises(ActionError, match="tidak dapat memuat"):
        broadcasts.approve_broadcast(broadcast, by=Actor(user=admin))
    assert not Delivery.objects.exists()


def test_a_placeholder_left_empty_blocks_approval(incident, admin, channels, network):
    broadcast = draft(incident, admin, channels, values={**VALUES, "hotline": ""})
    assert "hotline" in broadcasts.unfilled(broadcast)
    with pytest.raises(ActionError, match="hotline"):
        broadcasts.approve_broadcast(broadcast, by=Actor(user=admin))


def test_the_urgent_worker_sends_a_broadcast_before_a_long_ordinary_queue(
    org, admin, approver, incident, channels, network
):
    ordinary = make_channel(org, "biasa")
    old = timezone.now() - timedelta(hours=1)
    for n in range(30):
        post = make_post(
            org,
            admin,
            [ordinary],
            title=f"Promo {n}",
            text="Promo",
            when=old,
            approve_with=[approver],
        )
        # Held by the incident's pause; released so that they are due like any queue.
        publishing.release_post(post, by=Actor(user=admin))
    broadcast = draft(incident, admin, channels)
    broadcasts.approve_broadcast(broadcast, by=Actor(user=admin))
    assert deliver_urgent("urgent-1") == len(channels)
    assert Delivery.objects.filter(urgent=True, status=DeliveryStatus.PUBLISHED).count() == 2
    # The ordinary drain never takes an urgent delivery, and the urgent one no ordinary one.
    assert deliver_urgent("urgent-1") == 0
    handled = 0
    while done := deliver_due("plain-1"):
        handled += done
    assert handled == Delivery.objects.filter(urgent=False).count()
    assert not Delivery.objects.filter(urgent=True, claimed_by="plain-1").exists()


class SlowFake(RoomyFake):
    delay = 0.3
    running = 0
    most = 0
    lock = threading.Lock()

    def publish(self, content: PostContent):
        cls = type(self)
        with cls.lock:
            cls.running += 1
            cls.most = max(cls.most, cls.running)
        try:
            time.sleep(cls.delay)  # a slow network answering
            return super().publish(content)
        finally:
            with cls.lock:
                cls.running -= 1


@pytest.mark.django_db(transaction=True)
def test_urgent_deliveries_are_sent_side_by_side_not_one_after_another(
    org, admin, network, monkeypatch
):
    from humas.channels import providers

    monkeypatch.setitem(providers.REGISTRY, "fake", f"{__name__}.SlowFake")
    providers.provider_class.cache_clear()
    SlowFake.running = SlowFake.most = 0
    channels = [make_channel(org, f"k{n}") for n in range(4)]
    incident = incident_actions.declare_incident(
        org, by=Actor(user=admin), hazard="flood", title="Banjir"
    )
    broadcast = draft(incident, admin, channels)
    broadcasts.approve_broadcast(broadcast, by=Actor(user=admin))
    assert deliver_urgent("urgent-1") == 4
    # All four were at the network at once (counted, not timed).
    assert SlowFake.most == 4
    assert Delivery.objects.filter(status=DeliveryStatus.PUBLISHED).count() == 4
    post = Broadcast.objects.get(pk=broadcast.pk).post
    assert post is not None and post.status == PostStatus.PUBLISHED


def test_a_failing_channel_does_not_stop_the_others_and_can_be_sent_again(
    org, incident, admin, channels, network, monkeypatch
):
    broadcast = draft(incident, admin, channels)
    broadcasts.approve_broadcast(broadcast, by=Actor(user=admin))
    failing = channels[0]
    real_publish = RoomyFake.publish

    def publish(self, content):
        if self.channel_key.endswith(f":{failing.pk}"):
            raise ProviderError("Akun dibekukan", ErrorKind.PERMANENT)
        return real_publish(self, content)

    monkeypatch.setattr(RoomyFake, "publish", publish)
    deliver_urgent("urgent-1")
    broadcast.refresh_from_db()
    rows = {r.channel.pk: r for r in broadcasts.progress(broadcast).rows}
    assert rows[failing.pk].status == DeliveryStatus.FAILED and rows[failing.pk].retryable
    assert "dibekukan" in rows[failing.pk].error
    assert rows[channels[1].pk].status == DeliveryStatus.PUBLISHED
    assert rows[channels[1].pk].seconds is not None

    monkeypatch.setattr(RoomyFake, "publish", real_publish)
    broadcasts.retry_channel(broadcast, rows[failing.pk].delivery, by=Actor(user=admin))
    assert Delivery.objects.get(pk=rows[failing.pk].delivery.pk).urgent
    deliver_urgent("urgent-1")
    assert broadcasts.progress(broadcast).published == 2
    assert broadcasts.progress(broadcast).finished


def test_an_update_goes_under_the_first_broadcast_on_networks_with_threads(
    incident, admin, channels, network, monkeypatch
):
    monkeypatch.setattr(
        RoomyFake, "capabilities", Capabilities(reply=True, threads=True, polling=True)
    )
    first = draft(incident, admin, channels[:1])
    broadcasts.approve_broadcast(first, by=Actor(user=admin))
    deliver_urgent("urgent-1")
    # With threads, each language is its own part of the thread.
    sent = RoomyFake.published[-1]
    assert sent.text == Broadcast.objects.get(pk=first.pk).texts["id"]
    assert [p.text for p in sent.thread] == [Broadcast.objects.get(pk=first.pk).texts["en"]]
    root_id = Delivery.objects.get(post=Broadcast.objects.get(pk=first.pk).post).channel_post
    assert root_id is not None
    update = draft(incident, admin, channels[:1])
    assert update.parent_id == first.pk
    broadcasts.approve_broadcast(update, by=Actor(user=admin))
    deliver_urgent("urgent-1")
    assert RoomyFake.published[-1].options["in_reply_to"] == {
        "id": root_id.external_id,
        "root": root_id.external_id,
    }
    second_id = Delivery.objects.get(post=Broadcast.objects.get(pk=update.pk).post).channel_post
    assert second_id is not None
    third = draft(incident, admin, channels[:1])
    broadcasts.approve_broadcast(third, by=Actor(user=admin))
    deliver_urgent("urgent-1")
    # The third goes under the second (the thread reads in order), rooted at the first.
    assert RoomyFake.published[-1].options["in_reply_to"] == {
        "id": second_id.external_id,
        "root": root_id.external_id,
    }


# --- promotion held while the incident is active ---------------------------------------------


def test_an_active_incident_holds_scheduled_promotion_and_new_posts_until_released(
    org, admin, approver, network
):
    channel = make_channel(org, "promo")
    later = timezone.now() + timedelta(hours=2)
    waiting = make_post(
        org, admin, [channel], title="Festival kuliner", when=later, approve_with=[approver]
    )
    incident = incident_actions.declare_incident(
        org, by=Actor(user=admin), hazard="flood", title="Banjir"
    )
    waiting.refresh_from_db()
    assert waiting.held_at is not None and waiting.held_by is not None
    assert waiting.held_by.source.endswith(str(incident.pk))
    assert set(waiting.deliveries.values_list("status", flat=True)) == {DeliveryStatus.HELD}
    # Scheduled during the incident: held from the start.
    new = make_post(org, admin, [channel], title="Lomba foto", when=later, approve_with=[approver])
    new.refresh_from_db()
    assert new.held_at is not None
    assert set(new.deliveries.values_list("status", flat=True)) == {DeliveryStatus.HELD}
    # Held posts never go out, however late.
    Delivery.objects.update(due_at=timezone.now() - timedelta(minutes=1))
    assert deliver_due("plain-1") == 0
    # Released one by one: this one goes out now (its time passed), the other stays held.
    publishing.release_post(waiting, by=Actor(user=admin))
    assert set(waiting.deliveries.values_list("status", flat=True)) == {DeliveryStatus.PENDING}
    assert deliver_due("plain-1") == 1
    assert Delivery.objects.get(post=new).status == DeliveryStatus.HELD
    # Closing ends the pause: later posts are not held, those still held stay listed.
    incident_actions.close_incident(incident, by=Actor(user=admin))
    assert PublishingPause.objects.get().ends_at is not None
    after = make_post(org, admin, [channel], title="Pameran", when=later, approve_with=[approver])
    after.refresh_from_db()
    assert after.held_at is None
    new.refresh_from_db()
    assert new.held_at is not None


def test_a_pause_that_began_after_a_delivery_was_made_still_holds_it_when_due(
    org, admin, approver, network
):
    channel = make_channel(org, "promo")
    post = make_post(
        org, admin, [channel], when=timezone.now() + timedelta(hours=1), approve_with=[approver]
    )
    Delivery.objects.update(due_at=timezone.now() - timedelta(minutes=1))
    PublishingPause.objects.create(
        organisation=org, reason="x", source="test:1", starts_at=timezone.now()
    )
    assert deliver_due("plain-1") == 1
    post.refresh_from_db()
    assert post.held_at is not None
    assert Delivery.objects.get(post=post).status == DeliveryStatus.HELD
    assert not RoomyFake.published


def test_a_broadcast_is_never_held(org, incident, admin, channels, network):
    broadcast = draft(incident, admin, channels)
    broadcast = broadcasts.approve_broadcast(broadcast, by=Actor(user=admin))
    assert not Delivery.objects.filter(status=DeliveryStatus.HELD).exists()
    deliver_urgent("urgent-1")
    assert broadcasts.progress(broadcast).published == len(channels)


def test_deliver_side_by_side_reports_a_lease_lost_to_another_worker(
    incident, admin, channels, network
):
    broadcast = draft(incident, admin, channels[:1])
    broadcasts.approve_broadcast(broadcast, by=Actor(user=admin))
    delivery = Delivery.objects.get()
    delivery.claimed_by = "someone-else"
    delivery.claimed_until = timezone.now() + timedelta(seconds=30)
    delivery.save()
    assert deliver_side_by_side([delivery], "urgent-1") == [delivery]
    assert not RoomyFake.published


# --- pages ------------------------------------------------------------------------------------


def test_the_broadcast_pages_draft_approve_and_show_each_channel(
    org, incident, admin, channels, network, as_user
):
    client = as_user(admin)
    page = client.get(reverse("crisis:broadcast_create", args=[incident.pk]))
    assert page.status_code == 200 and "Siapkan siaran" in page.content.decode()
    response = client.post(
        reverse("crisis:broadcast_create", args=[incident.pk]),
        {
            "hazard": "flood",
            "languages": ["id", "en"],
            "channels": [c.pk for c in channels],
            **VALUES,
        },
    )
    broadcast = Broadcast.objects.get()
    assert response.status_code == 302
    detail = client.get(reverse("crisis:broadcast", args=[broadcast.pk])).content.decode()
    assert "Kec. Coblong" in detail and 'data-testid="broadcast-approve"' in detail
    client.post(reverse("crisis:broadcast_approve", args=[broadcast.pk]))
    again = client.post(reverse("crisis:broadcast_approve", args=[broadcast.pk]), follow=True)
    assert "sekali" in again.content.decode()  # "already approved … goes out once"
    status = client.get(reverse("crisis:broadcast_status", args=[broadcast.pk])).content.decode()
    assert 'hx-trigger="every 1s"' in status and "Menunggu" in status
    deliver_urgent("urgent-1")
    status = client.get(reverse("crisis:broadcast_status", args=[broadcast.pk])).content.decode()
    assert "hx-trigger" not in status and "Diterbitkan" in status


def test_another_organisations_broadcast_is_not_found(
    org, other_org, incident, admin, channels, network, as_user
):
    broadcast = draft(incident, admin, channels)
    stranger = make_member(other_org, "admin@dua.go.id", Role.ADMIN)
    client = as_user(stranger)
    assert client.get(reverse("crisis:broadcast", args=[broadcast.pk])).status_code == 404
    assert client.post(reverse("crisis:broadcast_approve", args=[broadcast.pk])).status_code == 404


def test_a_held_post_is_listed_on_the_incident_page_and_released_from_it(
    org, admin, approver, network, as_user
):
    channel = make_channel(org, "promo")
    post = make_post(
        org, admin, [channel], when=timezone.now() + timedelta(hours=1), approve_with=[approver]
    )
    incident = incident_actions.declare_incident(
        org, by=Actor(user=admin), hazard="flood", title="Banjir"
    )
    client = as_user(admin)
    page = client.get(reverse("crisis:incident", args=[incident.pk])).content.decode()
    assert f'data-testid="held-post-{post.pk}"' in page
    client.post(reverse("crisis:held_release", args=[incident.pk, post.pk]))
    post.refresh_from_db()
    assert post.held_at is None
    page = client.get(reverse("crisis:incident", args=[incident.pk])).content.decode()
    assert f'data-testid="held-post-{post.pk}"' not in page


def test_each_approved_broadcast_is_a_cap_update_carrying_its_text(
    org, incident, admin, channels, network, client
):
    from humas.crisis import cap

    first = broadcasts.approve_broadcast(draft(incident, admin, channels), by=Actor(user=admin))
    url = reverse("crisis:cap_out_alert", args=[org.slug, incident.pk])
    data = client.get(url).content
    assert cap.validate(data) == []
    alert = cap.parse(data, strict=True)
    assert alert.identifier.endswith("-v2") and alert.msg_type == "Update"
    assert [key[1] for key in alert.references] == [f"humas-{org.slug}-incident-{incident.pk}-v1"]
    by_language = {info.language: info for info in alert.infos}
    assert by_language["id-ID"].instruction == first.texts["id"]
    assert by_language["en-US"].instruction == first.texts["en"]
    # A second broadcast is v3, referencing both earlier versions; the feed lists v3.
    broadcasts.approve_broadcast(draft(incident, admin, channels), by=Actor(user=admin))
    alert = cap.parse(client.get(url).content, strict=True)
    assert alert.identifier.endswith("-v3") and len(alert.references) == 2
    feed = client.get(reverse("crisis:cap_out_feed", args=[org.slug])).content.decode()
    assert f"incident-{incident.pk}-v3" in feed


def test_ordinary_recordings_step_aside_while_a_broadcast_is_in_flight(
    org, incident, admin, channels, network, monkeypatch
):
    from humas.publishing import delivery as delivery_module

    broadcasts.approve_broadcast(draft(incident, admin, channels), by=Actor(user=admin))
    pauses: list[float] = []

    def pause(seconds):
        # While "waiting", the broadcast goes out; the gate must then open.
        pauses.append(seconds)
        deliver_urgent("urgent-1")

    monkeypatch.setattr(delivery_module.time, "sleep", pause)
    delivery_module._yield_to_urgent()
    assert len(pauses) == 1
    # Nothing urgent in flight: no wait at all.
    delivery_module._yield_to_urgent()
    assert len(pauses) == 1


def test_the_gate_never_holds_ordinary_recordings_longer_than_its_limit(
    org, incident, admin, channels, network, monkeypatch
):
    from humas.publishing import delivery as delivery_module

    broadcasts.approve_broadcast(draft(incident, admin, channels), by=Actor(user=admin))
    clock = [0.0]
    monkeypatch.setattr(delivery_module.time, "monotonic", lambda: clock[0])

    def pause(seconds):
        clock[0] += seconds  # the broadcast never goes out (its worker is down)

    monkeypatch.setattr(delivery_module.time, "sleep", pause)
    delivery_module._yield_to_urgent()
    assert delivery_module.URGENT_GATE_SECONDS <= clock[0] < delivery_module.URGENT_GATE_SECONDS + 1
