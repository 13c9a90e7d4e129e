"""Access helpers for channels (see humas.accounts.access for the rules)."""

from __future__ import annotations

from django.db.models import QuerySet
from django.http import HttpRequest
from django.shortcuts import get_object_or_404

from humas.accounts.access import require
from humas.channels.models import ChannelAccount, InboundEvent


def channels_for(request: HttpRequest) -> QuerySet[ChannelAccount]:
    membership = require(request, "channels.view")
    return ChannelAccount.objects.filter(organisation=membership.organisation)


def get_channel_for(
    request: HttpRequest, channel_id: int, *, write: bool = False
) -> ChannelAccount:
    channel = get_object_or_404(channels_for(request), pk=channel_id)
    if write:
        require(request, "channels.manage")
    return channel


def events_for(request: HttpRequest) -> QuerySet[InboundEvent]:
    membership = require(request, "inbox.view")
    return InboundEvent.objects.filter(organisation=membership.organisation)
