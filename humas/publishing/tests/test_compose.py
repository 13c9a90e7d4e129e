"""The composer's checks: each network's way of counting, media rules, alt text and captions."""

from __future__ import annotations

import dataclasses

from humas.publishing.compose import Draft, check_all, check_draft, tracked_link
from humas.publishing.models import Campaign, MediaAsset
from humas.publishing.testing import make_channel


def _asset(org, kind="image", **fields) -> MediaAsset:
    defaults = {
        "mime_type": "image/png" if kind == "image" else "video/mp4",
        "size": 1000,
        "sha256": "0" * 64,
        "width": 1080,
        "height": 1920,
        "original_name": f"berkas.{'png' if kind == 'image' else 'mp4'}",
    }
    return MediaAsset.objects.create(organisation=org, kind=kind, **(defaults | fields))


def test_bluesky_counts_graphemes_so_an_emoji_with_a_skin_tone_is_one(org, fake_network):
    channel = make_channel(org, "pemkot.bsky.social", network="bluesky")
    text = "Terima kasih 👍🏽" * 20  # 20 × 14 graphemes, far more code points
    check = check_draft(Draft(channel=channel, text=text), [])
    assert check.length == 280
    assert check.ok


def test_mastodon_counts_every_link_as_23_characters(org, fake_network):
    channel = make_channel(org, "pemkot@sosial.example", network="mastodon")
    link = "https://dinkes.example.go.id/" + "jadwal-posyandu-" * 20
    check = check_draft(Draft(channel=channel, text=f"Jadwal: {link}"), [])
    assert check.length == len("Jadwal: ") + 23
    assert check.max_length == 500


def test_an_image_without_alt_text_blocks_publishing_on_every_network(org, fake_network):
    for network in ("bluesky", "mastodon", "telegram", "email"):
        channel = make_channel(org, f"akun-{network}", network=network)
        check = check_draft(Draft(channel=channel, text="Info"), [_asset(org, alt_text="")])
        assert any("alt text" in p for p in check.problems), network


def test_a_video_without_captions_is_a_warning_not_a_block(org, channel):
    video = _asset(org, kind="video", duration=20, alt_text="Video", captions="")
    check = check_draft(Draft(channel=channel, text="Info"), [video])
    assert any("captions" in w for w in check.warnings)
    assert not any("captions" in p for p in check.problems)


def test_a_network_for_short_vertical_video_refuses_a_landscape_or_long_one(
    org, channel, fake_network, monkeypatch
):
    shorts = dataclasses.replace(
        fake_network.limits,
        video_types=("video/mp4",),
        max_video_bytes=10**9,
        max_video_seconds=60,
        video_aspect_ratio=(0.55, 0.57),
    )
    monkeypatch.setattr(fake_network, "limits", shorts)
    vertical = _asset(org, kind="video", duration=30, captions="WEBVTT", alt_text="v")
    landscape = _asset(org, kind="video", duration=30, width=1920, height=1080, captions="x")
    long = _asset(org, kind="video", duration=95, captions="WEBVTT", alt_text="v")

    assert check_draft(Draft(channel=channel, text="Info"), [vertical]).ok
    assert any(
        "9:16" in p for p in check_draft(Draft(channel=channel, text="x"), [landscape]).problems
    )
    assert any(
        "95 seconds" in p for p in check_draft(Draft(channel=channel, text="x"), [long]).problems
    )


def test_a_variant_without_the_posts_media_is_checked_without_it(org, channel):
    no_alt = _asset(org, alt_text="")
    assert not check_draft(Draft(channel=channel, text="Info", with_media=False), [no_alt]).problems


def test_a_thread_is_refused_where_the_network_has_none(org, channel):
    check = check_draft(Draft(channel=channel, text="Satu", thread=["Dua"]), [])
    assert any("threads" in p for p in check.problems)


def test_every_channel_is_checked_with_its_own_limits(org, fake_network):
    bluesky = make_channel(org, "b", network="bluesky")
    mastodon = make_channel(org, "m", network="mastodon")
    text = "x" * 400
    checks = check_all([Draft(channel=bluesky, text=text), Draft(channel=mastodon, text=text)], [])
    assert not checks[bluesky.pk].ok
    assert checks[mastodon.pk].ok


def test_a_campaign_link_is_tagged_with_the_network_it_went_out_on(org):
    campaign = Campaign(organisation=org, slug="imunisasi-2026")
    tagged = tracked_link(
        "https://dinkes.example.go.id/imunisasi?utm_source=old&a=1", campaign, "bluesky"
    )
    assert tagged == (
        "https://dinkes.example.go.id/imunisasi?a=1&utm_source=bluesky&utm_medium=social"
        "&utm_campaign=imunisasi-2026"
    )
    assert tracked_link("https://x.example/", None, "bluesky") == "https://x.example/"
