"""The post pages: list and queue, the composer and its live check, the post page's buttons."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from django.core.files.base import ContentFile
from django.urls import reverse
from django.utils import timezone

from humas.accounts.audit import Actor
from humas.channels.models import ChannelPost, ChannelStatus
from humas.channels.providers.base import Capabilities
from humas.publishing import actions
from humas.publishing.models import (
    Decision,
    Delivery,
    DeliveryStatus,
    MediaAsset,
    Post,
    PostStatus,
)
from humas.publishing.testing import make_channel, make_post

pytestmark = pytest.mark.django_db


def _image(org, *, alt_text=""):
    asset = MediaAsset(
        organisation=org,
        kind="image",
        mime_type="image/png",
        size=500,
        sha256="0" * 64,
        width=800,
        height=600,
        alt_text=alt_text,
        original_name="poster-posyandu.png",
    )
    asset.file.save("poster-posyandu.png", ContentFile(b"\x89PNG fake"), save=False)
    asset.save()
    return asset


def _compose_data(channel, **overrides):
    data = {
        "title": "Jadwal posyandu",
        "text": "Posyandu buka Sabtu pukul 08.00 di balai RW 05.",
        "link": "",
        "pillar": "",
        "campaign": "",
        "channels": [channel.pk],
        "recurrence": "",
        "recurrence_until": "",
        f"v{channel.pk}-text": "",
        f"v{channel.pk}-content_warning": "",
        f"v{channel.pk}-with_media": "on",
    }
    data.update(overrides)
    return data


# --- the composer ----------------------------------------------------------------------


def test_composing_a_post_for_the_fake_channel_creates_a_variant(org, editor, channel, as_user):
    response = as_user(editor).post(reverse("publishing:post_new"), _compose_data(channel))

    post = Post.objects.get(organisation=org)
    assert response["Location"] == reverse("publishing:post", args=[post.pk])
    variant = post.variants.get()
    assert variant.channel == channel
    # An empty variant text stands for the main text.
    assert variant.text == "Posyandu buka Sabtu pukul 08.00 di balai RW 05."
    assert post.author == editor


def test_the_composer_offers_only_active_channels_that_can_publish(org, editor, channel, as_user):
    broken = make_channel(org, "akun-lama")
    broken.status = ChannelStatus.NEEDS_RECONNECTION
    broken.save()

    response = as_user(editor).get(reverse("publishing:post_new"))

    offered = [c.pk for c in response.context["form"].channel_rows]
    assert offered == [channel.pk]


def test_the_live_check_shows_text_over_the_limit_and_an_image_without_alt_text(
    org, editor, channel, as_user
):
    asset = _image(org)
    data = _compose_data(channel, text="x" * 150, assets=[asset.pk])

    response = as_user(editor).post(reverse("publishing:compose_check"), data)

    assert response.status_code == 200
    [(_draft, check, assets)] = response.context["checks"]
    assert (check.length, check.max_length) == (150, 100)
    assert assets == [asset]
    assert any("alt text" in problem for problem in check.problems)
    assert len(check.problems) >= 2  # too long, and the image has no description
    html = response.content.decode()
    assert "150 of 100 characters" in html
    assert "has no alt text" in html


def test_the_live_check_has_nothing_to_say_about_a_short_text_with_described_media(
    org, editor, channel, as_user
):
    asset = _image(org, alt_text="Poster jadwal posyandu RW 05")
    data = _compose_data(channel, assets=[asset.pk])

    response = as_user(editor).post(reverse("publishing:compose_check"), data)

    [(_draft, check, _assets)] = response.context["checks"]
    assert check.problems == []
    assert "Poster jadwal posyandu RW 05" in response.content.decode()


def test_the_live_check_ignores_another_organisations_channels_and_media(
    org, other_org, editor, channel, other_channel, as_user
):
    theirs = _image(other_org)
    data = _compose_data(channel, assets=[theirs.pk])
    data["channels"] = [channel.pk, other_channel.pk]

    response = as_user(editor).post(reverse("publishing:compose_check"), data)

    [(draft, _check, assets)] = response.context["checks"]
    assert draft.channel == channel
    assert assets == []


def test_media_goes_out_in_the_order_it_was_ticked(org, editor, channel, as_user):
    first = _image(org, alt_text="Pertama")
    second = _image(org, alt_text="Kedua")
    data = _compose_data(
        channel, assets=[first.pk, second.pk], media_order=f"{second.pk},{first.pk}"
    )

    as_user(editor).post(reverse("publishing:post_new"), data)

    post = Post.objects.get(organisation=org)
    assert actions.post_assets(post) == [second, first]


def test_an_error_from_saving_is_shown_on_the_form(org, editor, channel, as_user):
    post = make_post(org, editor, [channel])
    Post.objects.filter(pk=post.pk).update(status=PostStatus.PUBLISHED)

    response = as_user(editor).post(
        reverse("publishing:post_edit", args=[post.pk]), _compose_data(channel, title="Baru")
    )

    assert response.status_code == 200
    assert "can no longer be edited" in str(response.context["form"].non_field_errors())
    post.refresh_from_db()
    assert post.title == "Jadwal posyandu"


def test_editing_keeps_the_variant_text_typed_for_one_channel(org, editor, channel, as_user):
    post = make_post(org, editor, [channel])
    client = as_user(editor)
    page = client.get(reverse("publishing:post_edit", args=[post.pk]))
    # The composer opens with the saved post already checked.
    assert [draft.channel for draft, _check, _assets in page.context["checks"]] == [channel]
    data = _compose_data(channel, **{f"v{channel.pk}-text": "Versi singkat untuk kanal ini"})

    client.post(reverse("publishing:post_edit", args=[post.pk]), data)

    post.refresh_from_db()
    assert post.version == 2
    assert post.variants.get().text == "Versi singkat untuk kanal ini"


def test_an_analyst_cannot_use_the_composer(org, analyst, editor, channel, as_user):
    post = make_post(org, editor, [channel])
    client = as_user(analyst)

    assert client.get(reverse("publishing:post_new")).status_code == 403
    assert client.post(reverse("publishing:post_new"), _compose_data(channel)).status_code == 403
    assert (
        client.post(reverse("publishing:compose_check"), _compose_data(channel)).status_code == 403
    )
    assert client.get(reverse("publishing:post_edit", args=[post.pk])).status_code == 403
    assert client.get(reverse("publishing:post", args=[post.pk])).status_code == 200
    assert Post.objects.count() == 1


# --- approving ----------------------------------------------------------------------------


def test_an_approver_cannot_approve_their_own_post(org, approver, channel, as_user):
    post = make_post(org, approver, [channel])
    actions.submit_for_approval(post, by=Actor(user=approver))
    client = as_user(approver)

    page = client.get(reverse("publishing:post", args=[post.pk]))
    assert not page.context["may_decide"]
    response = client.post(
        reverse("publishing:post_decide", args=[post.pk]),
        {"decision": Decision.APPROVED},
        follow=True,
    )

    post.refresh_from_db()
    assert post.status == PostStatus.IN_REVIEW
    assert "cannot approve your own post" in " ".join(str(m) for m in response.context["messages"])


def test_an_editor_cannot_approve_at_all(org, editor, admin, channel, as_user):
    post = make_post(org, admin, [channel])
    actions.submit_for_approval(post, by=Actor(user=admin))

    response = as_user(editor).post(
        reverse("publishing:post_decide", args=[post.pk]), {"decision": Decision.APPROVED}
    )

    assert response.status_code == 403
    post.refresh_from_db()
    assert post.status == PostStatus.IN_REVIEW


def test_two_approval_steps_need_two_different_approvers(
    org, editor, approver, second_approver, channel, as_user
):
    org.approval_steps = 2
    org.save()
    post = make_post(org, editor, [channel])
    as_user(editor).post(reverse("publishing:post_submit", args=[post.pk]))
    post.refresh_from_db()
    assert post.status == PostStatus.IN_REVIEW
    decide = reverse("publishing:post_decide", args=[post.pk])

    client = as_user(approver)
    client.post(decide, {"decision": Decision.APPROVED, "comment": "Sudah sesuai"})
    client.post(decide, {"decision": Decision.APPROVED})
    post.refresh_from_db()
    assert post.status == PostStatus.IN_REVIEW
    assert post.approvals.count() == 1

    as_user(second_approver).post(decide, {"decision": Decision.APPROVED})
    post.refresh_from_db()
    assert post.status == PostStatus.APPROVED
    assert list(post.approvals.values_list("step", flat=True)) == [1, 2]

    page = as_user(editor).get(reverse("publishing:post", args=[post.pk]))
    assert "Sudah sesuai" in page.content.decode()


def test_asking_for_changes_needs_a_comment(org, editor, approver, channel, as_user):
    post = make_post(org, editor, [channel])
    actions.submit_for_approval(post, by=Actor(user=editor))
    decide = reverse("publishing:post_decide", args=[post.pk])
    client = as_user(approver)

    client.post(decide, {"decision": Decision.CHANGES_REQUESTED, "comment": ""})
    post.refresh_from_db()
    assert post.status == PostStatus.IN_REVIEW

    client.post(decide, {"decision": Decision.CHANGES_REQUESTED, "comment": "Tambah alamat"})
    post.refresh_from_db()
    assert post.status == PostStatus.CHANGES_REQUESTED


# --- scheduling and publishing ------------------------------------------------------------


def test_scheduling_reads_the_time_in_the_organisations_zone(
    org, editor, approver, channel, as_user
):
    org.time_zone = "Asia/Makassar"
    org.save()
    post = make_post(org, editor, [channel], approve_with=[approver])

    as_user(editor).post(
        reverse("publishing:post_schedule", args=[post.pk]), {"when": "2030-01-15T08:00"}
    )

    post.refresh_from_db()
    # 08:00 WITA is midnight in UTC.
    assert post.scheduled_at == datetime(2030, 1, 15, 0, 0, tzinfo=UTC)
    assert post.status == PostStatus.SCHEDULED
    assert post.deliveries.get().due_at == datetime(2030, 1, 15, 0, 0, tzinfo=UTC)
    page = as_user(editor).get(reverse("publishing:post", args=[post.pk]))
    assert "08:00" in page.content.decode()


def test_a_time_that_has_passed_is_refused_with_a_pointer_to_publish_now(
    org, editor, approver, channel, as_user
):
    post = make_post(org, editor, [channel], approve_with=[approver])

    response = as_user(editor).post(
        reverse("publishing:post_schedule", args=[post.pk]),
        {"when": "2020-01-15T08:00"},
        follow=True,
    )

    assert "That time has passed" in response.content.decode()
    assert not Delivery.objects.filter(post=post).exists()
    post.refresh_from_db()
    assert post.status == PostStatus.APPROVED


def test_an_unapproved_post_cannot_be_scheduled(org, editor, channel, as_user):
    post = make_post(org, editor, [channel])

    response = as_user(editor).post(
        reverse("publishing:post_publish_now", args=[post.pk]), follow=True
    )

    assert not Delivery.objects.filter(post=post).exists()
    assert "Only an approved post can be scheduled" in response.content.decode()


def test_publishing_now_creates_deliveries_and_the_table_polls(
    org, editor, approver, channel, as_user
):
    post = make_post(org, editor, [channel], approve_with=[approver])
    client = as_user(editor)

    client.post(reverse("publishing:post_publish_now", args=[post.pk]))

    delivery = Delivery.objects.get(post=post)
    assert delivery.channel == channel
    assert delivery.status == DeliveryStatus.PENDING
    partial = client.get(reverse("publishing:post_deliveries", args=[post.pk]))
    assert 'hx-trigger="every 5s"' in partial.content.decode()

    Delivery.objects.filter(pk=delivery.pk).update(status=DeliveryStatus.PUBLISHED)
    partial = client.get(reverse("publishing:post_deliveries", args=[post.pk]))
    assert "every 5s" not in partial.content.decode()


def test_the_queue_lists_deliveries_in_time_order(org, editor, approver, channel, as_user):
    soon = timezone.now() + timedelta(hours=1)
    later = make_post(
        org,
        editor,
        [channel],
        title="Nanti",
        when=soon + timedelta(days=1),
        approve_with=[approver],
    )
    sooner = make_post(org, editor, [channel], title="Segera", when=soon, approve_with=[approver])

    response = as_user(editor).get(reverse("publishing:queue"))

    assert [d.post for d in response.context["deliveries"]] == [sooner, later]
    html = response.content.decode()
    assert html.index("Segera") < html.index("Nanti")


def test_cancelling_from_the_queue_stops_the_delivery(org, editor, approver, channel, as_user):
    post = make_post(
        org, editor, [channel], when=timezone.now() + timedelta(hours=2), approve_with=[approver]
    )

    response = as_user(editor).post(
        reverse("publishing:post_cancel", args=[post.pk]), {"next": "queue"}
    )

    assert response["Location"] == reverse("publishing:queue")
    assert post.deliveries.get().status == DeliveryStatus.CANCELLED


# --- the per-channel table ------------------------------------------------------------------


def _delivery(post, **fields):
    delivery = post.deliveries.get()
    for name, value in fields.items():
        setattr(delivery, name, value)
    delivery.save()
    return delivery


def test_a_failed_delivery_says_what_the_editor_can_do(org, editor, approver, channel, as_user):
    post = make_post(
        org, editor, [channel], when=timezone.now() + timedelta(hours=1), approve_with=[approver]
    )
    _delivery(
        post,
        status=DeliveryStatus.FAILED,
        attempts=1,
        last_error="The token was revoked.",
        last_error_kind="auth",
    )

    html = as_user(editor).get(reverse("publishing:post", args=[post.pk])).content.decode()

    assert "The token was revoked." in html
    assert "must be reconnected by an administrator" in html


def test_a_waiting_delivery_on_a_broken_channel_shows_as_paused(
    org, editor, approver, channel, as_user
):
    post = make_post(
        org, editor, [channel], when=timezone.now() + timedelta(hours=1), approve_with=[approver]
    )
    channel.status = ChannelStatus.NEEDS_RECONNECTION
    channel.save()

    html = as_user(editor).get(reverse("publishing:post", args=[post.pk])).content.decode()

    assert "paused: channel needs reconnection" in html


def test_an_uncertain_delivery_is_sent_again_only_after_the_editor_checked(
    org, editor, approver, channel, as_user
):
    post = make_post(
        org, editor, [channel], when=timezone.now() + timedelta(hours=1), approve_with=[approver]
    )
    delivery = _delivery(post, status=DeliveryStatus.UNCERTAIN)
    retry = reverse("publishing:delivery_retry", args=[delivery.pk])
    client = as_user(editor)

    client.post(retry)
    delivery.refresh_from_db()
    assert delivery.status == DeliveryStatus.UNCERTAIN

    client.post(retry, {"send_again": "1"})
    delivery.refresh_from_db()
    assert delivery.status == DeliveryStatus.PENDING


def test_an_editor_confirms_that_an_uncertain_delivery_arrived(
    org, editor, approver, channel, as_user
):
    post = make_post(
        org, editor, [channel], when=timezone.now() + timedelta(hours=1), approve_with=[approver]
    )
    delivery = _delivery(post, status=DeliveryStatus.UNCERTAIN)

    as_user(editor).post(
        reverse("publishing:delivery_confirm", args=[delivery.pk]),
        {"url": "https://fake.example/p/9"},
    )

    delivery.refresh_from_db()
    post.refresh_from_db()
    assert delivery.status == DeliveryStatus.PUBLISHED
    assert post.status == PostStatus.PUBLISHED


def test_deleting_from_the_networks_first_shows_which_cannot_delete(
    org, editor, approver, channel, as_user, fake_network, monkeypatch
):
    monkeypatch.setattr(fake_network, "capabilities", Capabilities(delete=False))
    post = make_post(org, editor, [channel], approve_with=[approver])
    actions.schedule_post(post, by=Actor(user=editor), when=None)
    published = ChannelPost.objects.create(
        organisation=org,
        channel=channel,
        external_id="post-1",
        url="https://fake.example/p/1",
        published_at=timezone.now(),
    )
    _delivery(post, status=DeliveryStatus.PUBLISHED, channel_post=published)
    client = as_user(editor)

    page = client.get(reverse("publishing:post_delete_remote", args=[post.pk]))
    assert 'data-testid="cannot-delete"' in page.content.decode()

    response = client.post(reverse("publishing:post_delete_remote", args=[post.pk]), follow=True)
    published.refresh_from_db()
    assert published.deleted_at is None
    assert "does not let humas delete posts" in response.content.decode()


# --- lists and isolation ----------------------------------------------------------------


def test_the_list_filters_posts_by_status_and_channel(org, editor, approver, channel, as_user):
    draft = make_post(org, editor, [channel], title="Masih draf")
    approved = make_post(org, editor, [channel], title="Sudah disetujui", approve_with=[approver])
    elsewhere = make_post(org, editor, [make_channel(org, "akun-kedua")], title="Kanal lain")
    client = as_user(editor)

    by_status = client.get(reverse("publishing:post_list"), {"status": PostStatus.APPROVED})
    assert list(by_status.context["page"]) == [approved]

    by_channel = client.get(reverse("publishing:post_list"), {"channel": channel.pk})
    assert set(by_channel.context["page"]) == {draft, approved}
    assert elsewhere not in by_channel.context["page"]


def test_another_organisations_post_is_not_found(
    org, other_org, editor, other_admin, other_channel, as_user
):
    theirs = make_post(other_org, other_admin, [other_channel])
    client = as_user(editor)

    for name in ("publishing:post", "publishing:post_edit", "publishing:post_deliveries"):
        assert client.get(reverse(name, args=[theirs.pk])).status_code == 404
    for name in ("publishing:post_cancel", "publishing:post_submit", "publishing:post_publish_now"):
        assert client.post(reverse(name, args=[theirs.pk])).status_code == 404
    theirs.refresh_from_db()
    assert theirs.status == PostStatus.DRAFT
    assert theirs not in client.get(reverse("publishing:post_list")).context["page"]
