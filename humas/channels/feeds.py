"""The organisation's public Atom feed (RFC 4287) of what it published through humas.

Anyone may read it (no login): it repeats what the organisation already made public on its
channels, so a citizen, a journalist or another agency can follow one address instead of five
networks. Only the organisation's own top-level posts appear: replies to citizens
(``in_reply_to``) and deleted posts never do.

One entry per announcement, not per channel. The same text usually goes to several channels
on the same day; until the publishing app links each ``ChannelPost`` to its ``Post``, posts
are grouped by their text (whitespace collapsed) and the calendar day in the organisation's
time zone. The first post of a group (earliest, then lowest id) gives the entry its id and its
``alternate`` link; the other channels' addresses are ``related`` links. A text repeated on a
later day is a new entry, as a reader would expect from a reminder.

Entry ids are tag URIs (RFC 4151) built from ``SITE_URL``'s host, the day of the first post
and the post's database id: they stay the same across slug renames and regenerations of the
feed. The feed is cached by readers (``Cache-Control: public, max-age=300``) and answers
conditional GETs with 304 using a strong ETag (a hash of the document) and Last-Modified.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Any
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo

from django.conf import settings
from django.db.models import Max
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404
from django.urls import reverse
from django.utils import translation
from django.utils.cache import get_conditional_response, patch_cache_control
from django.utils.feedgenerator import Atom1Feed, rfc3339_date
from django.utils.http import http_date
from django.utils.text import Truncator
from django.utils.translation import gettext as _
from django.views.decorators.http import require_safe

from humas.accounts.models import Organisation
from humas.channels.models import ChannelPost

MAX_ENTRIES = 50
# Posts read to build MAX_ENTRIES entries: room for each announcement to have gone to several
# channels. If the read hits this cap, the oldest group may be missing posts and is dropped.
MAX_POSTS = MAX_ENTRIES * 6
TITLE_LENGTH = 100
CACHE_SECONDS = 300

# XML 1.0 cannot carry these at all, escaped or not; a pasted text sometimes contains one
# (a vertical tab from a word processor) and would otherwise break the whole feed.
_XML_INVALID = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")


def _clean(text: str) -> str:
    return _XML_INVALID.sub("", text)


def _utc(moment: datetime) -> datetime:
    # Whole seconds: HTTP dates have no fractions, and readers compare the two.
    return moment.astimezone(UTC).replace(microsecond=0)


def _tag_authority() -> str:
    return urlsplit(settings.SITE_URL).hostname or "localhost"


def _tag(day: date, specific: str) -> str:
    return f"tag:{_tag_authority()},{day.isoformat()}:humas/{specific}"


@dataclass
class _Entry:
    """Posts of one announcement (same text, same local day), earliest first."""

    posts: list[ChannelPost] = field(default_factory=list)

    @property
    def first(self) -> ChannelPost:
        return self.posts[0]

    @property
    def published(self) -> datetime:
        return _utc(self.first.published_at)

    @property
    def updated(self) -> datetime:
        return max(_utc(p.published_at) for p in self.posts)

    def links(self) -> list[tuple[str, str]]:
        """(url, network label) of each post that has an address, without repeats."""
        seen: set[str] = set()
        found = []
        for post in self.posts:
            if post.url and post.url not in seen:
                seen.add(post.url)
                found.append((post.url, post.channel.network_label))
        return found


def _group(posts: list[ChannelPost], tz: ZoneInfo) -> list[_Entry]:
    """Entries, newest first, from posts given newest first."""
    entries: dict[tuple[str, date], _Entry] = {}
    for post in sorted(posts, key=lambda p: (p.published_at, p.pk)):
        text = " ".join(post.text.split())
        # A post without text (media only) is never merged with another one.
        key = (text or f"#{post.pk}", post.published_at.astimezone(tz).date())
        entries.setdefault(key, _Entry()).posts.append(post)
    return sorted(entries.values(), key=lambda e: (e.published, e.first.pk), reverse=True)


def _title(text: str) -> str:
    first_line = next((line.strip() for line in text.splitlines() if line.strip()), "")
    return Truncator(first_line).chars(TITLE_LENGTH) if first_line else _("Post without text")


class HumasAtomFeed(Atom1Feed):
    """Django's Atom writer with what RFC 4287 asks of every entry and humas needs.

    Differences from ``Atom1Feed``: every entry has ``updated``; ``title`` and ``content``
    are plain text (``type="text"``, escaped by the XML writer, never interpreted as HTML by
    readers); the ``alternate`` link is left out when no channel gave an address (the content
    then satisfies the "link or content" rule); other channels' addresses are ``related``
    links; and an empty feed's ``updated`` is a fixed date, not "now", so its ETag is stable.
    """

    def __init__(self, *args: Any, empty_updated: datetime, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.empty_updated = empty_updated

    def latest_post_date(self) -> datetime:
        dates = [item["updateddate"] for item in self.items if item["updateddate"]]
        return max(dates) if dates else self.empty_updated

    def add_item_elements(self, handler: Any, item: dict[str, Any]) -> None:
        handler.addQuickElement("id", item["unique_id"])
        handler.addQuickElement("title", item["title"], {"type": "text"})
        handler.addQuickElement("updated", rfc3339_date(item["updateddate"]))
        handler.addQuickElement("published", rfc3339_date(item["pubdate"]))
        if item["link"]:
            handler.addQuickElement("link", "", {"rel": "alternate", "href": item["link"]})
        for url, label in item["related"]:
            handler.addQuickElement("link", "", {"rel": "related", "href": url, "title": label})
        handler.addQuickElement("content", item["description"], {"type": "text"})


def build_feed(org: Organisation) -> tuple[HumasAtomFeed, datetime]:
    """The organisation's feed and the moment it last changed (for Last-Modified)."""
    visible = ChannelPost.objects.filter(
        organisation=org, deleted_at__isnull=True, in_reply_to__isnull=True
    )
    posts = list(visible.select_related("channel").order_by("-published_at", "-pk")[:MAX_POSTS])
    entries = _group(posts, ZoneInfo(org.time_zone))
    if len(posts) == MAX_POSTS and len(entries) > 1:
        entries.pop()
    entries = entries[:MAX_ENTRIES]

    feed_url = settings.SITE_URL + reverse("channels:public_feed", args=[org.slug])
    feed = HumasAtomFeed(
        title=org.name,
        link=settings.SITE_URL + "/",
        description="",
        language=org.default_language,
        author_name=org.name,
        feed_url=feed_url,
        feed_guid=_tag(org.created_at.astimezone(UTC).date(), f"org/{org.pk}"),
        empty_updated=_utc(org.created_at),
    )
    with translation.override(org.default_language):
        for entry in entries:
            links = entry.links()
            text = _clean(entry.first.text)
            feed.add_item(
                title=_title(text),
                link=links[0][0] if links else "",
                description=text,
                unique_id=_tag(entry.published.date(), f"org/{org.pk}/post/{entry.first.pk}"),
                pubdate=entry.published,
                updateddate=entry.updated,
                related=links[1:],
            )
    changed = feed.latest_post_date()
    # A deletion changes the document without a newer entry: readers that only send
    # If-Modified-Since must still see it.
    deleted = ChannelPost.objects.filter(organisation=org).aggregate(last=Max("deleted_at"))
    if deleted["last"] is not None:
        changed = max(changed, _utc(deleted["last"]))
    return feed, changed


@require_safe
def public_feed(request: HttpRequest, org_slug: str) -> HttpResponse:
    org = get_object_or_404(Organisation, slug=org_slug)
    feed, changed = build_feed(org)
    body = feed.writeString("utf-8").encode("utf-8")
    response = HttpResponse(body, content_type=feed.content_type)
    response["ETag"] = f'"{hashlib.sha256(body).hexdigest()[:32]}"'
    response["Last-Modified"] = http_date(changed.timestamp())
    response["Content-Language"] = org.default_language
    patch_cache_control(response, public=True, max_age=CACHE_SECONDS)
    # Returns a 304 carrying the same validators and Cache-Control when the reader's copy
    # is current (If-None-Match wins over If-Modified-Since, as RFC 9110 says).
    conditional = get_conditional_response(
        request,
        etag=response["ETag"],
        last_modified=int(changed.timestamp()),
        response=response,
    )
    return conditional or response
