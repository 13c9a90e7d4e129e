"""Builders for tests and benchmarks: a connected fake channel, a post ready to go."""

from __future__ import annotations

from datetime import datetime

from humas.accounts.audit import Actor
from humas.accounts.models import Organisation, User
from humas.channels.models import ChannelAccount
from humas.publishing import actions
from humas.publishing.compose import Draft
from humas.publishing.models import MediaAsset, Post


def make_channel(org: Organisation, handle: str, network: str = "fake") -> ChannelAccount:
    """A channel on ``network`` stored directly (no connect call to a network)."""
    channel = ChannelAccount(
        organisation=org, network=network, external_id=f"{network}-{handle}", handle=handle
    )
    channel.set_credentials({"token": "ok"})
    channel.save()
    return channel


def make_post(
    org: Organisation,
    author: User,
    channels: list[ChannelAccount],
    *,
    text: str = "Posyandu buka Sabtu pukul 08.00 di balai RW 05.",
    title: str = "Jadwal posyandu",
    media: list[MediaAsset] | None = None,
    when: datetime | None = None,
    approve_with: list[User] | None = None,
) -> Post:
    """A post with one variant per channel; approved by ``approve_with`` and scheduled at
    ``when`` when those are given."""
    post = actions.save_post(
        org,
        by=Actor(user=author),
        title=title,
        text=text,
        drafts=[Draft(channel=c, text=text) for c in channels],
        media=media or [],
    )
    if approve_with is not None or when is not None:
        actions.submit_for_approval(post, by=Actor(user=author))
        for approver in approve_with or []:
            actions.decide(post, by=Actor(user=approver), decision="approved")
    if when is not None:
        actions.schedule_post(post, by=Actor(user=author), when=when)
    return post
