"""Access helpers for publishing (see humas.accounts.access for the rules)."""

from __future__ import annotations

from typing import Any

from django.db.models import Model, QuerySet
from django.http import HttpRequest
from django.shortcuts import get_object_or_404

from humas.accounts.access import require
from humas.publishing.models import (
    BrandSnippet,
    Campaign,
    Card,
    Delivery,
    MediaAsset,
    Pillar,
    Post,
)


def _org_rows(request: HttpRequest, model: type[Model], perm: str) -> QuerySet[Any]:
    membership = require(request, perm)
    return model._default_manager.filter(organisation=membership.organisation)


def posts_for(request: HttpRequest) -> QuerySet[Post]:
    return _org_rows(request, Post, "content.view").select_related("pillar", "campaign", "author")


def get_post_for(request: HttpRequest, post_id: int, *, write: bool = False) -> Post:
    post = get_object_or_404(posts_for(request), pk=post_id)
    if write:
        require(request, "content.write")
    return post


def get_post_to_approve(request: HttpRequest, post_id: int) -> Post:
    post = get_object_or_404(posts_for(request), pk=post_id)
    require(request, "content.approve")
    return post


def deliveries_for(request: HttpRequest) -> QuerySet[Delivery]:
    return _org_rows(request, Delivery, "content.view").select_related("post", "channel")


def get_delivery_for(request: HttpRequest, delivery_id: int) -> Delivery:
    delivery = get_object_or_404(
        _org_rows(request, Delivery, "content.view").select_related("post", "channel"),
        pk=delivery_id,
    )
    require(request, "content.write")
    return delivery


def pillars_for(request: HttpRequest) -> QuerySet[Pillar]:
    return _org_rows(request, Pillar, "content.view")


def get_pillar_for(request: HttpRequest, pillar_id: int, *, write: bool = False) -> Pillar:
    pillar = get_object_or_404(pillars_for(request), pk=pillar_id)
    if write:
        require(request, "content.write")
    return pillar


def campaigns_for(request: HttpRequest) -> QuerySet[Campaign]:
    return _org_rows(request, Campaign, "content.view").select_related("pillar")


def get_campaign_for(request: HttpRequest, campaign_id: int, *, write: bool = False) -> Campaign:
    campaign = get_object_or_404(campaigns_for(request), pk=campaign_id)
    if write:
        require(request, "content.write")
    return campaign


def snippets_for(request: HttpRequest) -> QuerySet[BrandSnippet]:
    return _org_rows(request, BrandSnippet, "content.view")


def get_snippet_for(request: HttpRequest, snippet_id: int, *, write: bool = False) -> BrandSnippet:
    snippet = get_object_or_404(snippets_for(request), pk=snippet_id)
    if write:
        require(request, "content.write")
    return snippet


def media_for(request: HttpRequest) -> QuerySet[MediaAsset]:
    return _org_rows(request, MediaAsset, "content.view")


def get_media_for(request: HttpRequest, asset_id: int, *, write: bool = False) -> MediaAsset:
    asset = get_object_or_404(media_for(request), pk=asset_id)
    if write:
        require(request, "content.write")
    return asset


def cards_for(request: HttpRequest) -> QuerySet[Card]:
    return _org_rows(request, Card, "content.view").select_related(
        "assignee", "pillar", "campaign", "post"
    )


def get_card_for(request: HttpRequest, card_id: int, *, write: bool = False) -> Card:
    card = get_object_or_404(cards_for(request), pk=card_id)
    if write:
        require(request, "content.write")
    return card
