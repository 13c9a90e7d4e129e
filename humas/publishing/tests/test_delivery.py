"""Deliveries go out once, at their time, in the post's current form."""

from __future__ import annotations

import json
import subprocess
import sys
import threading
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from django.db import connection, connections
from django.utils import timezone

from humas.accounts import audit
from humas.accounts.actions import ActionError
from humas.accounts.audit import Actor
from humas.accounts.models import AuditEntry, Notification
from humas.channels.models import ChannelPost, ChannelStatus
from humas.channels.providers.base import Capabilities, ProviderError
from humas.lib.leases import claim
from humas.ops.tests.conftest import require_postgres
from humas.ops.tests.processes import environment
from humas.ops.worker import WorkerLoop
from humas.publishing import actions, delivery
from humas.publishing.compose import Draft
from humas.publishing.models import Delivery, DeliveryStatus, Post, PostStatus
from humas.publishing.testing import make_channel, make_post

NOW = timezone.now


def _recorded(d: Delivery) -> ChannelPost:
    assert d.channel_post is not None, d.last_error
    return d.channel_post


def _scheduled(org, editor, approver, channels, when=None) -> Post:
    return make_post(org, editor, channels, when=when or NOW(), approve_with=[approver])


def _expire_leases() -> None:
    Delivery.objects.update(claimed_until=NOW() - timedelta(seconds=1))


def test_a_due_delivery_is_published_once_and_recorded(
    org, editor, approver, channel, fake_network
):
    post = _scheduled(org, editor, approver, [channel])

    assert delivery.deliver_due("w1") == 1
    assert delivery.deliver_due("w1") == 0

    assert [c.text for c in fake_network.published] == [post.text]
    d = Delivery.objects.get(post=post)
    assert d.status == DeliveryStatus.PUBLISHED
    assert d.attempts == 1
    assert _recorded(d).external_id == "post-1"
    assert _recorded(d).url == "https://fake.example/p/1"
    post.refresh_from_db()
    assert post.status == PostStatus.PUBLISHED
    assert post.published_at is not None
    assert AuditEntry.objects.filter(action="publishing.delivery.published").count() == 1


def test_a_delivery_does_not_go_out_before_its_time(org, editor, approver, channel, fake_network):
    _scheduled(org, editor, approver, [channel], when=NOW() + timedelta(minutes=5))

    assert delivery.deliver_due("w1") == 0
    assert fake_network.published == []


def test_the_key_reaches_the_network_as_the_idempotency_key(
    org, editor, approver, channel, fake_network
):
    post = _scheduled(org, editor, approver, [channel])
    delivery.deliver_due("w1")
    key = Delivery.objects.get(post=post).key
    assert fake_network.published[0].options["idempotency_key"] == key
    assert len(key) == 13


def test_a_worker_that_died_after_the_network_took_the_post_is_not_repeated_where_the_network_can_look_it_up(
    org, editor, approver, channel, fake_network, monkeypatch
):
    monkeypatch.setattr(fake_network, "capabilities", Capabilities(find_by_key=True))
    post = _scheduled(org, editor, approver, [channel])
    (held,) = claim(Delivery.objects.all(), worker_id="dead", lease=delivery.LEASE)
    delivery._start(held, "dead")
    channel.provider().publish(delivery._content(held, post))  # accepted; then the worker dies
    _expire_leases()

    delivery.deliver_due("alive")

    assert len(fake_network.published) == 1
    d = Delivery.objects.get(post=post)
    assert (d.status, d.attempts) == (DeliveryStatus.PUBLISHED, 2)
    assert _recorded(d).external_id == "post-1"


def test_a_network_that_remembers_keys_is_asked_again_and_answers_with_the_first_post(
    org, editor, approver, channel, fake_network, monkeypatch
):
    monkeypatch.setattr(fake_network, "capabilities", Capabilities(idempotent_publish=True))
    post = _scheduled(org, editor, approver, [channel])
    (held,) = claim(Delivery.objects.all(), worker_id="dead", lease=delivery.LEASE)
    delivery._start(held, "dead")
    channel.provider().publish(delivery._content(held, post))
    _expire_leases()

    delivery.deliver_due("alive")

    assert len(fake_network.published) == 1
    assert _recorded(Delivery.objects.get(post=post)).external_id == "post-1"


def test_a_network_that_can_neither_look_up_nor_repeat_safely_asks_a_person(
    org, editor, approver, channel, fake_network, monkeypatch
):
    monkeypatch.setattr(fake_network, "capabilities", Capabilities())
    post = _scheduled(org, editor, approver, [channel])
    (held,) = claim(Delivery.objects.all(), worker_id="dead", lease=delivery.LEASE)
    delivery._start(held, "dead")
    _expire_leases()

    delivery.deliver_due("alive")

    assert fake_network.published == []
    d = Delivery.objects.get(post=post)
    assert d.status == DeliveryStatus.UNCERTAIN
    assert "mark it as published" in d.last_error
    assert Notification.objects.filter(user=editor, kind="publishing.delivery_failed").exists()
    with pytest.raises(ActionError):
        actions.retry_delivery(d, by=Actor(user=editor))  # without "it is not there"
    actions.retry_delivery(d, by=Actor(user=editor), send_again=True)
    delivery.deliver_due("alive")
    d.refresh_from_db()
    assert d.status == DeliveryStatus.PUBLISHED
    assert len(fake_network.published) == 1


def test_a_person_can_confirm_that_an_uncertain_delivery_arrived(
    org, editor, approver, channel, fake_network, monkeypatch
):
    monkeypatch.setattr(fake_network, "capabilities", Capabilities())
    post = _scheduled(org, editor, approver, [channel])
    (held,) = claim(Delivery.objects.all(), worker_id="dead", lease=delivery.LEASE)
    delivery._start(held, "dead")
    _expire_leases()
    delivery.deliver_due("alive")

    actions.confirm_delivery_arrived(Delivery.objects.get(), by=Actor(user=editor))

    post.refresh_from_db()
    assert post.status == PostStatus.PUBLISHED
    assert fake_network.published == []


def test_a_post_edited_while_a_worker_holds_its_delivery_does_not_go_out_in_its_old_form(
    org, editor, approver, channel, fake_network
):
    org.approval_steps = 0
    org.save()
    post = make_post(org, editor, [channel], text="Versi lama", when=NOW())
    (held,) = claim(Delivery.objects.all(), worker_id="w1", lease=delivery.LEASE)

    actions.save_post(
        org,
        by=Actor(user=editor),
        post=post,
        title=post.title,
        text="Versi baru",
        drafts=[Draft(channel=channel, text="Versi baru")],
    )
    with pytest.raises(delivery._LostLease):
        delivery.deliver(held, "w1")
    delivery.deliver_due("w2")

    assert [c.text for c in fake_network.published] == ["Versi baru"]
    statuses = Counter(Delivery.objects.values_list("status", flat=True))
    assert statuses == {DeliveryStatus.CANCELLED: 1, DeliveryStatus.PUBLISHED: 1}


def test_an_approved_post_edited_goes_back_for_approval_and_its_deliveries_wait(
    org, editor, approver, channel, fake_network
):
    post = _scheduled(org, editor, approver, [channel], when=NOW())
    actions.save_post(
        org,
        by=Actor(user=editor),
        post=post,
        title=post.title,
        text="Diubah setelah disetujui",
        drafts=[Draft(channel=channel, text="Diubah setelah disetujui")],
    )

    post.refresh_from_db()
    assert post.status == PostStatus.IN_REVIEW
    assert delivery.deliver_due("w1") == 0
    assert fake_network.published == []


def test_a_post_cancelled_while_a_worker_holds_it_is_not_sent(
    org, editor, approver, channel, fake_network
):
    post = _scheduled(org, editor, approver, [channel])
    (held,) = claim(Delivery.objects.all(), worker_id="w1", lease=delivery.LEASE)

    actions.cancel_post(post, by=Actor(user=editor))
    with pytest.raises(delivery._LostLease):
        delivery.deliver(held, "w1")

    assert fake_network.published == []
    post.refresh_from_db()
    assert post.status == PostStatus.CANCELLED


def test_a_post_cannot_be_edited_while_a_delivery_is_being_sent(
    org, editor, approver, channel, fake_network
):
    post = _scheduled(org, editor, approver, [channel])
    (held,) = claim(Delivery.objects.all(), worker_id="w1", lease=delivery.LEASE)
    delivery._start(held, "w1")

    with pytest.raises(ActionError, match="being"):
        actions.cancel_post(post, by=Actor(user=editor))
    with pytest.raises(ActionError):
        actions.save_post(
            org,
            by=Actor(user=editor),
            post=post,
            title="x",
            text="x",
            drafts=[Draft(channel=channel, text="x")],
        )


def test_a_transient_error_is_retried_later_with_backoff_then_fails_after_the_last_attempt(
    org, editor, approver, channel, fake_network
):
    post = _scheduled(org, editor, approver, [channel])
    fake_network.error = ProviderError("HTTP 503", "transient", status=503)

    delivery.deliver_due("w1")
    d = Delivery.objects.get(post=post)
    assert (d.status, d.attempts, d.last_error_kind) == (DeliveryStatus.PENDING, 1, "transient")
    assert d.due_at > NOW() + timedelta(seconds=delivery.BASE_BACKOFF / 2 - 1)

    for _attempt in range(delivery.MAX_ATTEMPTS - 1):
        Delivery.objects.update(due_at=NOW())
        delivery.deliver_due("w1")
    d.refresh_from_db()
    assert (d.status, d.attempts) == (DeliveryStatus.FAILED, delivery.MAX_ATTEMPTS)
    post.refresh_from_db()
    assert post.status == PostStatus.FAILED


def test_a_rate_limit_waits_as_long_as_the_network_asks(
    org, editor, approver, channel, fake_network
):
    post = _scheduled(org, editor, approver, [channel])
    fake_network.error = ProviderError("slow down", "rate_limited", retry_after=600, status=429)

    before = NOW()
    delivery.deliver_due("w1")

    d = Delivery.objects.get(post=post)
    assert d.status == DeliveryStatus.PENDING
    assert before + timedelta(seconds=599) <= d.due_at <= NOW() + timedelta(seconds=601)


def test_an_auth_error_pauses_the_channel_and_tells_the_admins_until_it_is_reconnected(
    org, admin, editor, approver, channel, fake_network
):
    post = _scheduled(org, editor, approver, [channel])
    fake_network.error = ProviderError("token revoked", "auth", status=401)

    delivery.deliver_due("w1")
    channel.refresh_from_db()
    assert channel.status == ChannelStatus.NEEDS_RECONNECTION
    assert Notification.objects.filter(user=admin, kind="channels.needs_reconnection").exists()
    d = Delivery.objects.get(post=post)
    assert d.status == DeliveryStatus.PENDING
    fake_network.error = None
    assert delivery.deliver_due("w1") == 0  # paused while the channel is broken

    channel.status = ChannelStatus.ACTIVE
    channel.save()
    delivery.deliver_due("w1")
    d.refresh_from_db()
    assert d.status == DeliveryStatus.PUBLISHED


def test_a_permanent_error_fails_the_delivery_with_the_reason_and_tells_the_author(
    org, editor, approver, channel, fake_network
):
    post = _scheduled(org, editor, approver, [channel])
    fake_network.error = ProviderError(
        "Content rejected: 422 text is spam", "permanent", status=422
    )

    delivery.deliver_due("w1")

    d = Delivery.objects.get(post=post)
    assert (d.status, d.last_error) == (DeliveryStatus.FAILED, "Content rejected: 422 text is spam")
    assert Notification.objects.filter(user=editor, kind="publishing.delivery_failed").exists()
    fake_network.error = None
    actions.retry_delivery(d, by=Actor(user=editor))
    delivery.deliver_due("w1")
    d.refresh_from_db()
    assert d.status == DeliveryStatus.PUBLISHED


def test_one_failing_channel_does_not_hold_back_the_others(
    org, editor, approver, channel, fake_network, monkeypatch
):
    second = make_channel(org, "pemkot-kedua")
    post = _scheduled(org, editor, approver, [channel, second])
    real_publish = fake_network.publish

    def publish(self, content):
        if self.channel_key.endswith(str(second.pk)):
            raise ProviderError("gone", "permanent", status=410)
        return real_publish(self, content)

    monkeypatch.setattr(fake_network, "publish", publish)
    delivery.deliver_due("w1")

    statuses = dict(Delivery.objects.values_list("channel_id", "status"))
    assert statuses == {channel.pk: DeliveryStatus.PUBLISHED, second.pk: DeliveryStatus.FAILED}
    post.refresh_from_db()
    assert post.status == PostStatus.FAILED


def test_a_recurring_post_schedules_its_next_occurrence_at_the_same_local_time(
    org, editor, approver, channel, fake_network
):
    org.time_zone = "Asia/Jayapura"  # WIT, UTC+9
    org.save()
    first = datetime(2026, 1, 31, 8, 0, tzinfo=UTC) - timedelta(hours=9)  # 08:00 WIT
    post = make_post(org, editor, [channel], approve_with=[approver])
    post.recurrence = "monthly"
    post.save()
    actions.schedule_post(post, by=Actor(user=editor), when=first)
    Delivery.objects.update(due_at=NOW())

    delivery.deliver_due("w1")

    following = Post.objects.get(repeats=post)
    # 31 January → the last day of February, still 08:00 in Jayapura.
    assert following.scheduled_at == datetime(2026, 2, 27, 23, 0, tzinfo=UTC)
    assert following.status == PostStatus.SCHEDULED
    assert following.deliveries.count() == 1


def test_scheduling_is_exact_in_every_indonesian_zone_whatever_the_server_zone(
    org, editor, approver, channel, fake_network, settings
):
    from zoneinfo import ZoneInfo

    settings.TIME_ZONE = "Europe/Amsterdam"  # a server zone with daylight saving
    for zone, utc_hour in (("Asia/Jakarta", 1), ("Asia/Makassar", 0), ("Asia/Jayapura", 23)):
        local = datetime(2026, 3, 29, 8, 0, tzinfo=ZoneInfo(zone))  # Europe's DST switch day
        post = _scheduled(org, editor, approver, [channel], when=local)
        d = post.deliveries.get()
        assert d.due_at.astimezone(UTC).hour == utc_hour
        assert d.due_at == local


# The worker closes and reopens connections between steps, which only works outside the
# transaction an ordinary database test is wrapped in.
@pytest.mark.django_db(transaction=True)
def test_the_worker_runs_the_delivery_drain_in_a_single_round(
    org, editor, approver, channel, fake_network
):
    _scheduled(org, editor, approver, [channel])

    WorkerLoop(worker_id="cron-worker").run(once=True)

    assert len(fake_network.published) == 1


# --- real processes and a real database ---------------------------------------------------


@pytest.mark.parametrize(
    ("mode", "expected_status", "expected_posts"),
    [("lookup", "published", 1), ("idempotent", "published", 1), ("none", "uncertain", 1)],
)
def test_a_worker_killed_with_sigkill_after_the_network_took_the_post_never_causes_a_second_post(
    tmp_path: Path, mode: str, expected_status: str, expected_posts: int
) -> None:
    env = environment(tmp_path) | {
        "HUMAS_FILENET": str(tmp_path / "network.jsonl"),
        "HUMAS_FILENET_MODE": mode,
    }
    script = [sys.executable, "-m", "humas.publishing.tests.scenario"]

    def run(step: str, **extra: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [*script, step], env=env | extra, capture_output=True, text=True, timeout=120
        )

    setup = run("setup")
    assert setup.returncode == 0, setup.stderr
    died = run("die", HUMAS_FILENET_DIE="after_publish")
    assert died.returncode == -9, died.stderr  # killed by SIGKILL, not finished
    recovered = run("recover")
    assert recovered.returncode == 0, recovered.stderr

    outcome = json.loads(recovered.stdout.strip().splitlines()[-1])
    assert outcome["network_posts"] == expected_posts
    assert outcome["status"] == expected_status
    if expected_status == "published":
        assert outcome["recorded_id"] == "p1"
        assert outcome["post_status"] == "published"


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_two_workers_racing_for_the_same_deliveries_publish_each_once(
    org, editor, approver, fake_network
):
    require_postgres()
    channels = [make_channel(org, f"kanal-{n}") for n in range(4)]
    for n in range(30):
        make_post(
            org,
            editor,
            channels,
            title=f"Info {n}",
            text=f"Info layanan {n}",
            when=NOW(),
            approve_with=[approver],
        )
    total = Delivery.objects.count()
    barrier = threading.Barrier(3)
    errors: list[BaseException] = []

    def work(worker_id: str) -> None:
        try:
            barrier.wait()
            idle = 0
            while idle < 3:
                idle = 0 if delivery.deliver_due(worker_id) else idle + 1
        except BaseException as exc:
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=work, args=(f"w{n}",)) for n in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)

    assert errors == []
    keys = [c.options["idempotency_key"] for c in fake_network.published]
    assert len(keys) == total == 120
    assert len(set(keys)) == total
    assert Delivery.objects.filter(status=DeliveryStatus.PUBLISHED).count() == total
    assert ChannelPost.objects.count() == total


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_a_database_restart_after_the_network_took_the_post_loses_nothing_and_repeats_nothing(
    org, editor, approver, channel, fake_network, monkeypatch
):
    """The worker's connection is terminated by the server (as in a restart) right after
    the network accepted the post; the next round finds the post by its key."""
    require_postgres()
    monkeypatch.setattr(fake_network, "capabilities", Capabilities(find_by_key=True))
    post = _scheduled(org, editor, approver, [channel])
    real_publish = fake_network.publish

    def publish_then_lose_the_database(self, content):
        published = real_publish(self, content)
        pid = connection.connection.info.backend_pid

        def terminate() -> None:
            with connections["default"].cursor() as cursor:  # another thread: another connection
                cursor.execute("SELECT pg_terminate_backend(%s)", [pid])
            connections["default"].close()

        killer = threading.Thread(target=terminate)
        killer.start()
        killer.join()
        return published

    monkeypatch.setattr(fake_network, "publish", publish_then_lose_the_database)
    with pytest.raises(Exception) as lost:
        delivery.deliver_due("w1")
    assert "terminat" in str(lost.value).lower() or "closed" in str(lost.value).lower()
    connection.close()  # what the drain thread does before its next round

    monkeypatch.setattr(fake_network, "publish", real_publish)
    _expire_leases()
    delivery.deliver_due("w2")

    assert len(fake_network.published) == 1
    d = Delivery.objects.get(post=post)
    assert (d.status, d.attempts) == (DeliveryStatus.PUBLISHED, 2)
    assert ChannelPost.objects.count() == 1


def test_an_unexpected_failure_on_one_delivery_does_not_hold_back_the_rest_of_the_round(
    org, editor, approver, channel, fake_network, monkeypatch
):
    first = _scheduled(org, editor, approver, [channel], when=NOW() - timedelta(minutes=1))
    second = _scheduled(org, editor, approver, [channel])
    real_publish = fake_network.publish

    def publish(self, content):
        if content.text == first.text and not getattr(publish, "failed", False):
            publish.failed = True  # type: ignore[attr-defined]
            raise RuntimeError("a bug")
        return real_publish(self, content)

    monkeypatch.setattr(fake_network, "publish", publish)
    assert delivery.deliver_due("w1") == 2

    assert Delivery.objects.get(post=second).status == DeliveryStatus.PUBLISHED
    retried = Delivery.objects.get(post=first)
    assert retried.status == DeliveryStatus.SENDING  # unsure: the next attempt looks first
    assert retried.claimed_by == ""
    assert retried.due_at > NOW()


def test_a_delivery_that_never_gets_an_outcome_stops_after_the_last_attempt_and_asks_a_person(
    org, editor, approver, channel, fake_network
):
    post = _scheduled(org, editor, approver, [channel])
    Delivery.objects.update(status=DeliveryStatus.SENDING, attempts=delivery.MAX_ATTEMPTS)

    delivery.deliver_due("w1")

    d = Delivery.objects.get(post=post)
    assert d.status == DeliveryStatus.UNCERTAIN
    assert "tried 6 times" in d.last_error
    assert fake_network.published == []


def _three_due(org, editor, approver, channel) -> list[Post]:
    return [
        make_post(
            org,
            editor,
            [channel],
            text=f"Pengumuman nomor {n}",
            when=NOW() - timedelta(seconds=3 - n),
            approve_with=[approver],
        )
        for n in range(3)
    ]


def test_a_batch_is_recorded_together_each_delivery_with_its_own_post_and_a_chained_audit_entry(
    org, editor, approver, channel, fake_network, monkeypatch
):
    monkeypatch.setattr(fake_network, "capabilities", Capabilities(idempotent_publish=True))
    posts = _three_due(org, editor, approver, channel)

    assert delivery.deliver_due("w1") == 3

    for post in posts:
        d = Delivery.objects.get(post=post)
        assert d.status == DeliveryStatus.PUBLISHED
        assert _recorded(d).text == post.text
        assert d.published_at == _recorded(d).published_at
        post.refresh_from_db()
        assert post.status == PostStatus.PUBLISHED
    entries = AuditEntry.objects.filter(action="publishing.delivery.published").order_by("seq")
    assert [e.target_id for e in entries] == [
        str(Delivery.objects.get(post=p).channel_post_id) for p in posts
    ]
    assert audit.verify().intact


def test_a_network_that_remembers_keys_has_its_deliveries_recorded_at_the_end_of_the_batch(
    org, editor, approver, channel, fake_network, monkeypatch
):
    monkeypatch.setattr(fake_network, "capabilities", Capabilities(idempotent_publish=True))
    first, second, _ = _three_due(org, editor, approver, channel)
    seen = _status_of_first_when_sending_second(fake_network, monkeypatch, first, second)

    delivery.deliver_due("w1")

    assert seen == [DeliveryStatus.SENDING]


def test_a_network_that_cannot_repeat_safely_has_each_delivery_recorded_as_soon_as_it_is_sent(
    org, editor, approver, channel, fake_network, monkeypatch
):
    # A crash mid-batch must leave at most one such delivery for a person to check.
    monkeypatch.setattr(fake_network, "capabilities", Capabilities())
    first, second, _ = _three_due(org, editor, approver, channel)
    seen = _status_of_first_when_sending_second(fake_network, monkeypatch, first, second)

    delivery.deliver_due("w1")

    assert seen == [DeliveryStatus.PUBLISHED]


def _status_of_first_when_sending_second(fake_network, monkeypatch, first, second) -> list[str]:
    seen: list[str] = []
    real_publish = fake_network.publish

    def publish(self, content):
        if content.text == second.text:
            seen.append(Delivery.objects.get(post=first).status)
        return real_publish(self, content)

    monkeypatch.setattr(fake_network, "publish", publish)
    return seen


def test_a_delivery_taken_over_mid_batch_is_left_to_its_new_holder_and_the_rest_are_recorded(
    org, editor, approver, channel, fake_network, monkeypatch
):
    monkeypatch.setattr(fake_network, "capabilities", Capabilities(idempotent_publish=True))
    first, second, third = _three_due(org, editor, approver, channel)
    real_publish = fake_network.publish

    def publish(self, content):
        if content.text == second.text:
            # The batch is slow; another worker takes the first delivery over meanwhile.
            Delivery.objects.filter(post=first).update(claimed_by="other")
        return real_publish(self, content)

    monkeypatch.setattr(fake_network, "publish", publish)
    delivery.deliver_due("w1")

    taken = Delivery.objects.get(post=first)
    assert (taken.status, taken.claimed_by, taken.channel_post) == (
        DeliveryStatus.SENDING,
        "other",
        None,
    )
    assert Delivery.objects.get(post=second).status == DeliveryStatus.PUBLISHED
    assert Delivery.objects.get(post=third).status == DeliveryStatus.PUBLISHED
    assert ChannelPost.objects.count() == 2

    # The new holder sends it again with the same key and the network answers with the
    # first post: recorded once, published once.
    monkeypatch.setattr(fake_network, "publish", real_publish)
    _expire_leases()
    delivery.deliver_due("other")
    taken.refresh_from_db()
    assert taken.status == DeliveryStatus.PUBLISHED
    assert len(fake_network.published) == 3
    assert ChannelPost.objects.count() == 3


def test_keeping_leases_extends_only_the_deliveries_the_named_threads_hold(
    org, editor, approver, channel, fake_network
):
    first, second, third = _three_due(org, editor, approver, channel)
    soon = NOW() + timedelta(seconds=1)
    Delivery.objects.filter(post=first).update(claimed_by="w-0", claimed_until=soon)
    Delivery.objects.filter(post=second).update(claimed_by="w-1", claimed_until=soon)
    Delivery.objects.filter(post=third).update(claimed_by="other-0", claimed_until=soon)

    delivery.keep_leases(["w-0", "w-1"])

    until = {d.post_id: d.claimed_until or soon for d in Delivery.objects.all()}
    assert until[first.pk] > soon + timedelta(seconds=3)
    assert until[second.pk] > soon + timedelta(seconds=3)
    assert until[third.pk] == soon
